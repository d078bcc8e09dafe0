"""The Match probe: where a "lines" analysis decides, and P(yes) there by teacher forcing."""
import math

import pytest
import torch

from stepwiser_core.match_probe import match_probe_table, match_sites, match_yes_probabilities

TWO = ("Analysis: Redo: First, 4 more arrive.\n3+4=7\nChunk: 3+4=7\nMatch: yes.\n"
       "Redo: Second, 2 times as many pens.\n7*2=14\nChunk: 7*2=15\nMatch: no.\nFinal Judgment: \\boxed{Negative}")


def test_match_sites_by_hand():
    sites = match_sites(TWO)
    assert [same for _, same in sites] == [True, False]
    assert all(TWO[:at].endswith("Match:") for at, _ in sites)
    assert match_sites("Analysis: Chunk: none\nMatch: yes.\nFinal Judgment: \\boxed{Positive}") == []  # no comparison
    assert match_sites("Analysis: Next: x. Check: 3+4=7. Chunk: 3+4=7. Match: yes.\nFinal Judgment: y") == []
    assert match_sites("garbage") == []


def _brute_force_p_yes(model, tok, prefix):
    def lp(cont):
        n = len(tok(prefix, add_special_tokens=False)["input_ids"])
        ids = tok(prefix + cont, add_special_tokens=False)["input_ids"]
        assert ids[:n] == tok(prefix, add_special_tokens=False)["input_ids"]  # the word starts a new token
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
        return sum(float(logp[i - 1, ids[i]]) for i in range(n, len(ids)))
    yes, no = lp(" yes"), lp(" no")
    return math.exp(yes) / (math.exp(yes) + math.exp(no))


def test_p_yes_is_the_teacher_forced_ratio_whatever_the_batching(tiny_model, toy_tokenizer):
    prompts = ["<|im_start|>user\nJudge.<|im_end|>\n<|im_start|>assistant\n", "<|im_start|>user\nAnother one, longer."
               "<|im_end|>\n<|im_start|>assistant\n", "p"]
    outputs = [TWO, TWO.replace("7*2=15", "7*2=14").replace("Match: no", "Match: yes"), "no analysis"]
    rows = match_yes_probabilities(tiny_model, toy_tokenizer, prompts, outputs, batch_size=3)
    assert [(r["item"], r["site"], r["identical"]) for r in rows] == [(0, 0, True), (0, 1, False), (1, 0, True),
                                                                      (1, 1, True)]
    for r in rows:
        at = match_sites(outputs[r["item"]])[r["site"]][0]
        assert r["p_yes"] == pytest.approx(_brute_force_p_yes(tiny_model, toy_tokenizer,
                                                              prompts[r["item"]] + outputs[r["item"]][:at]), abs=1e-5)
    one_by_one = match_yes_probabilities(tiny_model, toy_tokenizer, prompts, outputs, batch_size=1)
    assert [r["p_yes"] for r in one_by_one] == pytest.approx([r["p_yes"] for r in rows], abs=1e-5)
    with pytest.raises(ValueError):
        match_yes_probabilities(tiny_model, toy_tokenizer, prompts, outputs[:1])


def test_match_probe_table_by_hand():
    rows = [{"judge": "a", "identical": True, "p_yes": 0.9}, {"judge": "a", "identical": True, "p_yes": 0.7},
            {"judge": "a", "identical": False, "p_yes": 0.2}, {"judge": "b", "identical": True, "p_yes": 0.5}]
    t = match_probe_table(rows).set_index("judge")
    assert t.loc["a", "p_yes_identical"] == pytest.approx(0.8) and t.loc["a", "p_yes_different"] == pytest.approx(0.2)
    assert t.loc["a", "margin"] == pytest.approx(0.6) and t.loc["a", "n_identical"] == 2
    assert t.loc["b", "n_different"] == 0 and math.isnan(t.loc["b", "margin"])
