"""The rollout engine: greedy agrees with plain `generate`, sampling is reproducible and follows softmax."""
import sys

import pytest
import torch

from stepwiser_core.generation import Sampling, TransformersBackend, chat_prompt
from stepwiser_core.generation_vllm import VLLMBackend
from stepwiser_core.rollouts import RolloutEngine, sample_tokens

MIXED = ["a", "bb", "Solve 12+7 step by step.", "Tom has 5 apples and buys 3 more.", "c d e f g h"]


def prompts(tok, messages):
    return [chat_prompt(tok, q) for q in messages]


def n_tokens(tok, text):
    return len(tok(text, add_special_tokens=False)["input_ids"])


def engine(model, tok, **kw):
    return RolloutEngine(model, tok, progress=False, **kw)


@torch.inference_mode()
def single_row_greedy(model, tok, prefix, max_new):
    """The reference without any padding: `model.generate` on one unpadded row."""
    ids = tok(prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                         pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)[0, ids.shape[1]:].tolist()
    return out[:out.index(tok.eos_token_id) + 1] if tok.eos_token_id in out else out


def eos_after_multiples_of(model, tok, k):
    """Make the model end its turn right after any token whose id is a multiple of k, so greedy rows
    finish at different steps (a random tiny model hardly ever says eos). Returns the hook handles."""
    seen = {}

    def remember(_module, args, kwargs):
        seen["ids"] = kwargs["input_ids"] if kwargs.get("input_ids") is not None else args[0]

    def boost(_module, _inputs, logits):
        last = seen["ids"][:, -logits.shape[1]:]  # [batch, positions] aligned with logits
        logits[..., tok.eos_token_id] += 100.0 * (last % k == 0)
        return logits

    return [model.register_forward_pre_hook(remember, with_kwargs=True), model.lm_head.register_forward_hook(boost)]


def test_m_outputs_per_prefix_and_generator_protocol(tiny_model, toy_tokenizer):
    eng, ps = engine(tiny_model, toy_tokenizer), prompts(toy_tokenizer, MIXED[:3])
    s = Sampling(max_new_tokens=5, temperature=1.0, n=3, seed=1)
    out = eng.rollout(ps, 4, s)
    assert [len(x) for x in out] == [4, 4, 4] and all(isinstance(t, str) for x in out for t in x)
    assert eng.generate(ps, s) == eng.rollout(ps, 3, s)  # drop-in Generator: n = sampling.n
    ids = eng.rollout_ids(ps, 4, s)
    assert all(0 < len(r) <= 5 for x in ids for r in x)


def test_greedy_equals_transformers_backend_on_equal_length_prefixes(varied_model, toy_tokenizer):
    ps = prompts(toy_tokenizer, ["a", "b", "c", "d", "e", "f"])
    assert len({n_tokens(toy_tokenizer, p) for p in ps}) == 1, "test prefixes must have one token length"
    s = Sampling(max_new_tokens=24, temperature=0.0)
    reference = TransformersBackend(varied_model, toy_tokenizer, progress=False).generate(ps, s)
    assert len({r[0] for r in reference}) == len(ps)  # the text depends on the prefix: a meaningful comparison
    for rows in (256, 4, 1):  # one batch, several batches, one row per batch
        assert engine(varied_model, toy_tokenizer, max_batch_rows=rows).generate(ps, s) == reference


def test_greedy_with_mixed_lengths_equals_unpadded_generation(varied_model, toy_tokenizer):
    ps = prompts(toy_tokenizer, MIXED)
    assert len({n_tokens(toy_tokenizer, p) for p in ps}) > 2
    got = engine(varied_model, toy_tokenizer, max_batch_rows=3).rollout_ids(ps, 1, Sampling(24, 0.0))
    assert [x[0] for x in got] == [single_row_greedy(varied_model, toy_tokenizer, p, 24) for p in ps]


def test_finished_rows_stop_at_eos_and_leave_the_batch_without_changing_others(varied_model, toy_tokenizer):
    tok = toy_tokenizer
    ps = prompts(tok, MIXED + [m.upper() for m in MIXED] + [m + "?" for m in MIXED])
    handles = eos_after_multiples_of(varied_model, tok, 13)
    try:
        reference = [single_row_greedy(varied_model, tok, p, 30) for p in ps]
        # compact_fraction=0: compact the cache as soon as a row finishes (drops rows and padding columns).
        got = engine(varied_model, tok, compact_fraction=0.0).rollout_ids(ps, 1, Sampling(30, 0.0))
        sampled = engine(varied_model, tok).rollout_ids(ps, 8, Sampling(30, 1.0, seed=3))
    finally:
        for h in handles:
            h.remove()
    lengths = {len(r) for r in reference}
    assert len(lengths) > 3 and max(lengths) == 30, "rows should finish at many different steps"
    assert [x[0] for x in got] == reference
    for row in (r for x in sampled for r in x):
        assert row.count(tok.eos_token_id) == (row[-1] == tok.eos_token_id)  # eos only ever last
        assert row[-1] == tok.eos_token_id or len(row) == 30
    assert any(len(r) < 30 for x in sampled for r in x)
    assert all("<|im_end|>" not in t for t in engine(varied_model, tok).rollout(ps[:2], 2, Sampling(30, 1.0)))


def test_stop_tokens_cut_each_row_at_the_first_one_and_change_nothing_without_them(varied_model, toy_tokenizer):
    tok = toy_tokenizer
    ps = prompts(tok, MIXED + [m.upper() for m in MIXED])
    eng = engine(varied_model, tok, compact_fraction=0.0)
    full = [x[0] for x in eng.rollout_ids(ps, 1, Sampling(30, 0.0))]
    # stop at the commonest tokens the rows write, so that most rows (not all) stop early
    counts = torch.bincount(torch.tensor([t for r in full for t in r]))
    stops = [int(t) for t in counts.argsort(descending=True)[:2] if int(t) != tok.eos_token_id]
    cut = [x[0] for x in eng.rollout_ids(ps, 1, Sampling(30, 0.0), stop_ids=stops)]

    def until_stop(row):
        return next((row[:i + 1] for i, t in enumerate(row) if t in stops), row)

    assert cut == [until_stop(r) for r in full]  # greedy: the same rows, each cut at its first stop token
    assert sum(len(c) < len(f) for c, f in zip(cut, full)) >= 3
    sampled = eng.rollout_ids(ps, 4, Sampling(30, 1.0, seed=5), stop_ids=stops)
    for row in (r for x in sampled for r in x):
        ends = [i for i, t in enumerate(row) if t in stops or t == tok.eos_token_id]
        assert ends in ([], [len(row) - 1]) and (ends or len(row) == 30)  # an ender only ever last
    s = Sampling(30, 1.0, seed=5)
    assert eng.rollout_ids(ps, 4, s, stop_ids=()) == eng.rollout_ids(ps, 4, s)


def test_reproducible_for_a_seed_and_different_for_another(tiny_model, toy_tokenizer):
    eng, ps = engine(tiny_model, toy_tokenizer, max_batch_rows=8), prompts(toy_tokenizer, MIXED)
    s = Sampling(max_new_tokens=12, temperature=1.0, seed=7)
    first = eng.rollout(ps, 4, s)
    assert first == engine(tiny_model, toy_tokenizer, max_batch_rows=8).rollout(ps, 4, s)
    assert first != eng.rollout(ps, 4, Sampling(12, 1.0, seed=8))
    assert len({t for x in first for t in x}) > 10  # the m rollouts of a prefix differ from each other


def test_duplicate_prefixes_get_independent_rollouts(tiny_model, toy_tokenizer):
    p = prompts(toy_tokenizer, ["a"])[0]
    a, b = engine(tiny_model, toy_tokenizer).rollout([p, p], 6, Sampling(10, 1.0, seed=0))
    assert len(a) == len(b) == 6 and a != b


@torch.inference_mode()
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_first_token_follows_softmax_of_the_prefix_logits(varied_model, toy_tokenizer, temperature):
    prefix, n = prompts(toy_tokenizer, ["Tom has 5 apples."])[0], 20000
    ids = toy_tokenizer(prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
    probs = torch.softmax(varied_model(input_ids=ids).logits[0, -1] / temperature, -1).double()
    rows = engine(varied_model, toy_tokenizer, max_batch_rows=n).rollout_ids([prefix], n, Sampling(1, temperature))[0]
    counts = torch.bincount(torch.tensor([r[0] for r in rows]), minlength=len(probs)).double()
    expected = n * probs
    big = expected >= 5  # Pearson's chi-square needs expected counts >= 5: pool the rare tokens
    observed = torch.cat([counts[big], counts[~big].sum()[None]])
    expect = torch.cat([expected[big], expected[~big].sum()[None]])
    chi2, dof = float(((observed - expect) ** 2 / expect).sum()), int(big.sum())
    assert dof > 20
    assert chi2 < dof + 5 * (2 * dof) ** 0.5, f"chi2={chi2:.0f} with {dof} degrees of freedom"
    # The test has power: the same draws are far from the distribution at another temperature.
    wrong = n * torch.softmax(varied_model(input_ids=ids).logits[0, -1] / (temperature + 0.3), -1).double()
    chi2_wrong = float(((counts[big] - wrong[big]) ** 2 / wrong[big].clamp(min=1e-9)).sum())
    assert chi2_wrong > 3 * (dof + 5 * (2 * dof) ** 0.5)


def test_sample_tokens_greedy_and_never_draws_impossible_tokens():
    logits = torch.tensor([[0.0, 3.0, float("-inf"), 1.0], [float("-inf"), float("-inf"), 0.0, float("-inf")]])
    assert sample_tokens(logits, 0.0, None).tolist() == [1, 2]
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_tokens(logits, 1.0, g) for _ in range(500)])
    assert set(draws[:, 0].tolist()) == {0, 1, 3} and set(draws[:, 1].tolist()) == {2}


def test_invalid_requests(tiny_model, toy_tokenizer):
    eng = engine(tiny_model, toy_tokenizer)
    with pytest.raises(ValueError, match="m must be"):
        eng.rollout(["x"], 0, Sampling())
    with pytest.raises(ValueError, match="empty prefix"):
        eng.rollout([""], 2, Sampling())


def test_vllm_backend_without_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if vLLM were not installed (it never is on CPU)
    with pytest.raises(ImportError, match=r"pip install -e \.\[gpu\]; vLLM has no CPU build"):
        VLLMBackend("/nonexistent/model")
