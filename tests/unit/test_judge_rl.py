"""Judge RL: rewards, items, balancing and a tiny GRPO run, checked against the paper's definitions
(§3.3, App. A.4)."""
import math
import sys

import pytest

from stepwiser_core.judge import DIRECT_INSTRUCTION
from stepwiser_core.judge_rl import (GRPOSettings, _decision_free_trainer, balance, cot_reward,
                                     decision_char_spans, decision_free_mask, direct_reward, drop_false_alarms,
                                     evaluation_shift, grpo_config, grpo_train, history_frame,
                                     judge_items_from_records, label_shares, rl_dataset, training_trend)
from stepwiser_core.models import ModelShape, build_model
from stepwiser_core.tokenizer import build_tokenizer

POS = "Analysis: the sum is right.\nFinal Judgment: \\boxed{Positive}"
NEG = "Analysis: 3+4 is not 8.\nFinal Judgment: \\boxed{Negative}"


# ---------------------------------------------------------------------------------------------------- rewards

@pytest.mark.parametrize("completion, label, expected", [
    (POS, True, 1.0), (POS, False, 0.0), (NEG, False, 1.0), (NEG, True, 0.0),
    ("Final Judgment: \\boxed{ Negative }", False, 1.0),               # spaces inside the box still parse
    ("Analysis: fine. Positive", True, 0.0),                             # no box: unparseable
    ("\\boxed{positive}", True, 0.0), ("", False, 0.0), (None, False, 0.0),
    ("\\boxed{Positive} or maybe \\boxed{Negative}", True, 0.0),         # contradictory verdicts
    ("\\boxed{Positive} or maybe \\boxed{Negative}", False, 0.0),
    ("\\boxed{Negative} ... so, \\boxed{Negative}", False, 1.0),          # repeated, consistent
    ([{"role": "assistant", "content": NEG}], False, 1.0),               # conversational completions
    ([{"role": "assistant", "content": NEG}], True, 0.0),
    ([{"role": "assistant", "content": [{"type": "text", "text": POS}]}], True, 1.0),
])
def test_cot_reward(completion, label, expected):
    assert cot_reward([completion], [label]) == [expected]


def test_cot_reward_takes_trl_keyword_arguments_and_ignores_the_truth_column():
    got = cot_reward(prompts=["p", "p"], completions=[POS, NEG], label=[True, True], true_label=[False, None],
                     completion_ids=[[1], [2]], trainer_state=None)
    assert got == [1.0, 0.0]


@pytest.mark.parametrize("completion, label, expected", [
    ("\\boxed{Positive}", True, 1.0), ("\\boxed{Negative}", False, 1.0),
    (" \\boxed{Negative}\n", False, 1.0),                                 # surrounding whitespace allowed
    ("\\boxed{Negative}", True, 0.0), ("\\boxed{Positive}", False, 0.0),
    (POS, True, -1.0),                                                   # an analysis is a format violation
    ("\\boxed{Positive} \\boxed{Negative}", True, -1.0), ("\\boxed{Positive}\\boxed{Positive}", True, -1.0),
    ("\\boxed{ Positive }", True, -1.0), ("\\boxed{positive}", True, -1.0), ("Positive", True, -1.0),
    ("", False, -1.0), ("\\boxed{Positive}.", True, -1.0),
    ([{"role": "assistant", "content": "\\boxed{Positive}"}], True, 1.0),
    ([{"role": "assistant", "content": "Yes. \\boxed{Positive}"}], True, -1.0),
])
def test_direct_reward(completion, label, expected):
    assert direct_reward([completion], [label], prompts=["p"]) == [expected]


def test_rewards_need_one_label_per_completion():
    with pytest.raises(ValueError):
        cot_reward([POS, NEG], [True])


# ------------------------------------------------------------------------------------------------------ items

RECORD = {
    "problem_id": 7, "level": 2, "prompt": "Ann has 3 apples and buys 4. How many?",
    "completions": ["Start: 3.", "3 + 4 = 8.", "So 8 apples.", "Answer: \\boxed{8}"],
    "labels": [True, False, True, False],
    "labels_abs_q": [True, False, True, False], "labels_rel_ratio": [True, True, False, False],
    "q_values": [0.5, 0.0, 0.25, 0.0], "true_labels": [True, False, None, None], "true_first_error": 1,
}


def test_every_labelled_chunk_is_an_item_with_its_history():
    items = judge_items_from_records([RECORD], "abs_q")
    assert [it["step"] for it in items] == [0, 1, 2, 3]
    assert items[0]["history"] == () and items[2]["history"] == ("Start: 3.", "3 + 4 = 8.")
    assert [it["chunk"] for it in items] == RECORD["completions"]
    assert [it["label"] for it in items] == [True, False, True, False]
    assert [it["true_label"] for it in items] == [True, False, None, None]
    assert {it["problem_id"] for it in items} == {7} and items[0]["problem"] == RECORD["prompt"]
    assert [it["q_value"] for it in items] == [0.5, 0.0, 0.25, 0.0]
    assert [it["label"] for it in judge_items_from_records([RECORD], "rel_ratio")] == [True, True, False, False]


def test_steps_after_the_first_rollout_negative_can_be_capped():
    assert [it["step"] for it in judge_items_from_records([RECORD], "abs_q", max_steps_after_error=0)] == [0, 1]
    assert [it["step"] for it in judge_items_from_records([RECORD], "abs_q", max_steps_after_error=1)] == [0, 1, 2]
    # the cut follows the rule's labels (rel_ratio's first Negative is step 2), not the truth (step 1)
    assert [it["step"] for it in judge_items_from_records([RECORD], "rel_ratio", max_steps_after_error=0)] == [0, 1, 2]
    all_pos = {**RECORD, "labels_abs_q": [True] * 4}
    assert len(judge_items_from_records([all_pos], "abs_q", max_steps_after_error=0)) == 4
    with pytest.raises(KeyError, match="rel_effective"):
        judge_items_from_records([RECORD], "rel_effective")
    with pytest.raises(ValueError):
        judge_items_from_records([RECORD], "abs_q", max_steps_after_error=-1)


# ---------------------------------------------------------------------------------------------------- balance

def _items(n_pos, n_neg):
    return [{"id": i, "label": i < n_pos} for i in range(n_pos + n_neg)]


def test_balance_is_exactly_half_and_half_and_keeps_every_minority_item():
    items = _items(7, 3)
    out = balance(items, seed=1)
    assert len(out) == 6 and sum(it["label"] for it in out) == 3
    assert {it["id"] for it in out if not it["label"]} == {7, 8, 9}
    assert len({it["id"] for it in out}) == 6  # no duplicates
    many_neg = balance(_items(2, 9), seed=0)
    assert len(many_neg) == 4 and sum(it["label"] for it in many_neg) == 2
    assert label_shares(out) == {"items": 6, "positive": 3, "positive_share": 0.5}


def test_balance_is_deterministic_by_seed():
    items = _items(7, 3)
    assert balance(items, seed=3) == balance(items, seed=3)
    assert len({tuple(it["id"] for it in balance(items, seed=s)) for s in range(10)}) > 1


def test_balance_to_another_positive_share_keeps_the_limiting_label_whole():
    items = _items(20, 5)  # 20 Positive, 5 Negative
    out = balance(items, seed=0, positive_share=0.8)  # 4 Positive per Negative: every item of each label fits
    assert len(out) == 25 and sum(it["label"] for it in out) == 20
    out = balance(items, seed=0, positive_share=0.75)  # 3 per Negative: 15 of the 20 Positive, all 5 Negative
    assert len(out) == 20 and sum(it["label"] for it in out) == 15
    assert {it["id"] for it in out if not it["label"]} == {20, 21, 22, 23, 24}
    out = balance(_items(6, 10), seed=0, positive_share=0.6)  # Positive items limit: 6 of them, 4 Negative
    assert len(out) == 10 and sum(it["label"] for it in out) == 6
    assert balance(items, seed=4, positive_share=0.5) == balance(items, seed=4)  # 0.5 is the default, exactly
    with pytest.raises(ValueError, match="strictly between"):
        balance(items, seed=0, positive_share=1.0)


def test_disabled_balance_leaves_the_items_alone():
    items = _items(7, 3)
    assert balance(items, seed=0, enabled=False) == items
    with pytest.raises(ValueError, match="cannot balance"):
        balance(_items(3, 0), seed=0)


def _truth_items():
    """A balanced set: 6 Positive (one on a wrong chunk), 6 Negative of which 2 are false alarms (correct chunk),
    3 true errors and 1 after the first true error (truth None)."""
    truths = [True] * 5 + [False] + [True, True, False, False, False, None]
    return [{"id": i, "label": i < 6, "true_label": t} for i, t in enumerate(truths)]


def test_drop_false_alarms_removes_them_and_as_many_positives_and_keeps_the_order():
    items = _truth_items()
    out = drop_false_alarms(items, seed=0)
    ids = [it["id"] for it in out]
    assert 6 not in ids and 7 not in ids and {8, 9, 10, 11} <= set(ids)  # every other Negative stays
    assert len(out) == 8 and sum(it["label"] for it in out) == 4  # two Positives left too: still 50/50
    assert ids == sorted(ids)  # the balanced set's order, minus the dropped
    assert drop_false_alarms(items, seed=0) == out
    assert len({tuple(it["id"] for it in drop_false_alarms(items, seed=s)) for s in range(10)}) > 1


def test_drop_false_alarms_control_drops_other_negatives_and_the_same_positives():
    items = _truth_items()
    out, control = drop_false_alarms(items, seed=3), drop_false_alarms(items, seed=3, control=True)
    assert len(control) == len(out) and sum(it["label"] for it in control) == 4
    assert {6, 7} <= {it["id"] for it in control}  # the control keeps its false alarms
    assert len({8, 9, 10, 11} - {it["id"] for it in control}) == 2  # and loses two of the other Negatives
    assert [it for it in out if it["label"]] == [it for it in control if it["label"]]  # one Positive draw for both
    clean = [{"label": True, "true_label": True}] * 2 + [{"label": False, "true_label": False}] * 2
    assert drop_false_alarms(clean, seed=0) == clean  # no false alarm: nothing to drop
    with pytest.raises(ValueError, match="cannot drop"):
        drop_false_alarms([{"label": True, "true_label": True}] + [{"label": False, "true_label": True}] * 2, seed=0)


# ----------------------------------------------------------------------------------------- dataset and GRPO

@pytest.fixture(scope="module")
def tok():
    corpus = [RECORD["prompt"], *RECORD["completions"], POS, NEG, DIRECT_INSTRUCTION,
              "Validate the new reasoning chunk given the problem and the history. Mathematical Problem"] * 3
    return build_tokenizer(corpus, vocab_size=300)


def _tiny_judge(tok):
    """A fresh one-layer model for the GRPO tests (seed 0)."""
    return build_model(tok, ModelShape(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                                       intermediate_size=64, max_positions=512), seed=0)


def test_rl_dataset_columns_and_prompts(tok):
    items = judge_items_from_records([RECORD], "abs_q")
    ds = rl_dataset(items, tok)
    assert set(ds.column_names) >= {"prompt", "label", "true_label", "problem_id", "step"}
    assert ds["label"] == [True, False, True, False] and ds["step"] == [0, 1, 2, 3]
    assert ds["true_label"] == [True, False, None, None]
    assert ds["chunk"] == [it["chunk"] for it in items]  # what consistent_cot_reward reads the quotes against
    first = ds["prompt"][2]
    assert first.startswith("<|im_start|>user\n") and first.endswith("<|im_start|>assistant\n")
    assert "New Reasoning Chunk:\nSo 8 apples." in first and "Start: 3.\n\n3 + 4 = 8." in first
    assert DIRECT_INSTRUCTION not in first
    direct = rl_dataset(items, tok, cot=False)["prompt"][2]
    assert DIRECT_INSTRUCTION in direct and direct.endswith("<|im_start|>assistant\n")
    assert len(rl_dataset(items, tok, max_prompt_tokens=1)) == 0


def test_grpo_config_uses_clip_higher_and_fp32_on_the_cpu_bf16_on_a_gpu():
    import torch

    args = grpo_config(GRPOSettings(batch_size=8, updates_per_generation=2, gradient_accumulation_steps=2), "/tmp/x")
    assert (args.epsilon, args.epsilon_high, args.beta, args.num_generations) == (0.2, 0.28, 0.0, 4)
    assert args.steps_per_generation == 4 and args.generation_batch_size == 32
    on_gpu = torch.cuda.is_available()
    assert args.use_cpu is not on_gpu and args.bf16 is on_gpu and args.report_to in ("none", [], ["none"])
    assert not args.use_vllm
    with pytest.raises(ValueError):
        GRPOSettings(batch_size=6, num_generations=4)


def test_grpo_samples_through_colocated_vllm_when_asked_and_says_how_to_install_it(monkeypatch, tok, tmp_path):
    args = grpo_config(GRPOSettings(use_vllm=True, vllm_gpu_memory_utilization=0.25), "/tmp/x")
    assert args.use_vllm and args.vllm_mode == "colocate" and args.vllm_gpu_memory_utilization == 0.25
    monkeypatch.setitem(sys.modules, "vllm", None)  # as if vLLM were not installed (it never is on CPU)
    data = rl_dataset(balance(judge_items_from_records([RECORD], "abs_q"), seed=0), tok)
    with pytest.raises(ImportError, match=r"use_vllm needs vLLM: pip install -e \.\[gpu\]"):
        grpo_train(_tiny_judge(tok), tok, data, GRPOSettings(max_steps=1, use_vllm=True), tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # refused before anything was built or written


def test_history_frame_merges_train_and_eval_rows():
    log = [{"eval_acc": 0.5, "step": 0}, {"eval_acc": 0.6, "step": 1},
           {"reward": 0.25, "entropy": 3.0, "frac_reward_zero_std": 0.5, "rewards/cot_reward/mean": 0.25, "step": 1},
           {"train_runtime": 1.0, "train_loss": 0.1, "step": 1}]
    frame = history_frame(log)
    assert list(frame["step"]) == [0, 1] and list(frame.columns[:4]) == ["step", "reward", "entropy", "zero_std_share"]
    assert math.isnan(frame["reward"][0]) and frame["reward"][1] == 0.25 and frame["zero_std_share"][1] == 0.5
    assert list(frame["eval_acc"]) == [0.5, 0.6] and frame["reward_cot_reward"][1] == 0.25


def test_grpo_end_to_end_logs_reward_entropy_zero_std_and_eval(tok, tmp_path):
    model = _tiny_judge(tok)
    items = balance(judge_items_from_records([RECORD, {**RECORD, "problem_id": 8}], "abs_q"), seed=0)
    calls = []

    def eval_fn(m):
        calls.append(m.training)
        return {"step_acc_vs_labels": 0.5, "eval_step_acc_vs_truth": 0.25}

    settings = GRPOSettings(learning_rate=1e-4, max_steps=2, batch_size=8, max_completion_length=6, seed=0)
    log = grpo_train(model, tok, rl_dataset(items, tok), settings, tmp_path, reward="cot", eval_fn=eval_fn,
                     eval_every=1, progress=False)
    train = [r for r in log if "reward" in r]
    assert len(train) == 2
    for row in train:
        assert {"reward", "entropy", "frac_reward_zero_std", "rewards/cot_reward/mean"} <= set(row)
        assert 0.0 <= row["reward"] <= 1.0 and 0.0 <= row["frac_reward_zero_std"] <= 1.0 and row["entropy"] >= 0
    evals = [r for r in log if "eval_step_acc_vs_labels" in r]
    assert [r["step"] for r in evals] == [0, 1, 2] and len(calls) == 3 and not any(calls)
    frame = history_frame(log)
    assert list(frame["step"]) == [0, 1, 2] and {"eval_step_acc_vs_truth", "zero_std_share"} <= set(frame.columns)
    assert not model.training
    with pytest.raises(ValueError, match="unknown reward"):
        grpo_train(model, tok, rl_dataset(items, tok), settings, tmp_path, reward="nope")


@pytest.mark.parametrize("isolate", [True, False])
def test_grpo_sampling_depends_on_what_the_evaluation_does_to_the_global_rng_only_when_not_isolated(
        tok, tmp_path, isolate):
    # TransformersBackend seeds torch's global generator per batch, and TRL's GRPO samples from that generator: with
    # the coupling (the toy runs made before it, isolate=False) the evaluation's settings change GRPO's draws.
    import torch

    if not isolate and torch.cuda.is_available():
        # Seen on an H200: in bf16 this tiny judge's samples all run to the length limit and earn one reward, so
        # its loss and lengths carry no trace of which draws it made; the coupling is shown on the CPU (CI, toy tier).
        pytest.skip("the coupling leaves no trace in this tiny judge's GRPO log on a GPU")

    def trajectory(eval_seed):
        model = _tiny_judge(tok)
        items = balance(judge_items_from_records([RECORD, {**RECORD, "problem_id": 8}], "abs_q"), seed=0)

        def eval_fn(m):
            torch.manual_seed(eval_seed)  # what TransformersBackend does per batch
            return {"acc": 0.5}

        settings = GRPOSettings(learning_rate=1e-3, max_steps=4, batch_size=8, max_completion_length=8, seed=0)
        log = grpo_train(model, tok, rl_dataset(items, tok), settings, tmp_path / f"{isolate}{eval_seed}",
                         reward="cot", eval_fn=eval_fn, eval_every=2, progress=False, isolate_eval_rng=isolate)
        frame = history_frame(log)
        return [round(x, 6) for x in frame["completion_length"].dropna()], [round(x, 6) for x in frame["loss"].dropna()]

    assert (trajectory(5) == trajectory(6)) is isolate


def test_grpo_sampling_seed_changes_the_completions_and_not_the_items_or_their_order(tok, tmp_path, monkeypatch):
    # What TRL hands the reward, call by call: the prompts (which items, in which order) and the sampled completions.
    from stepwiser_core import judge_rl

    def run(name, seed, sampling_seed):
        seen = []

        def cot_reward(prompts, completions, label, **kwargs):  # TRL logs a reward under its function's name
            seen.append((list(prompts), list(completions)))
            return judge_rl.cot_reward(completions, label)

        monkeypatch.setitem(judge_rl.REWARDS, "cot", cot_reward)
        items = balance(judge_items_from_records([RECORD, {**RECORD, "problem_id": 8}], "abs_q"), seed=0)
        settings = GRPOSettings(learning_rate=1e-3, max_steps=4, batch_size=8, max_completion_length=8, seed=seed,
                                sampling_seed=sampling_seed)
        grpo_train(_tiny_judge(tok), tok, rl_dataset(items, tok), settings, tmp_path / name, progress=False)
        return [p for p, _ in seen], [c for _, c in seen]

    prompts, completions = run("plain", 0, None)
    assert len(prompts) == 4  # one generation round per step
    assert run("same", 0, 0) == (prompts, completions)  # reseeding with the run's own seed changes nothing
    other_prompts, other_completions = run("resampled", 0, 1)
    assert other_prompts == prompts and other_completions != completions
    assert run("reordered", 1, 0)[0] != prompts  # TRL's seed orders the items


def test_grpo_keeps_loadable_checkpoints_without_changing_the_run(tok, tmp_path):
    import torch

    from stepwiser_core.models import load_model

    def run(save_every):
        model = _tiny_judge(tok)
        items = balance(judge_items_from_records([RECORD, {**RECORD, "problem_id": 8}], "abs_q"), seed=0)
        settings = GRPOSettings(learning_rate=1e-3, max_steps=4, batch_size=8, max_completion_length=8, seed=0,
                                save_every=save_every)
        log = grpo_train(model, tok, rl_dataset(items, tok), settings, tmp_path / str(save_every), progress=False)
        frame = history_frame(log)
        return model, [round(x, 6) for x in frame["completion_length"].dropna()], [round(x, 6) for x in frame["loss"]]

    plain, lengths, losses = run(0)
    kept, kept_lengths, kept_losses = run(2)
    assert (kept_lengths, kept_losses) == (lengths, losses)  # the same draws and updates with checkpoints kept
    assert not any((tmp_path / "0").glob("checkpoint-*"))
    assert sorted(p.name for p in (tmp_path / "2").glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    last, last_tok = load_model(tmp_path / "2" / "checkpoint-4")  # what the final judge is, reloaded with its tokenizer
    assert all(torch.equal(a, b) for a, b in zip(last.state_dict().values(), kept.state_dict().values()))
    assert last_tok("3 + 4 = 8.")["input_ids"] == tok("3 + 4 = 8.")["input_ids"]
    with pytest.raises(ValueError):
        GRPOSettings(save_every=-1)


# --------------------------------------------------------------------------- decision-free loss (NOT the paper)

LINES_NEG = ("Analysis: Redo: Third, 5 are given away.\n12-5=7\nChunk: 12-5=8\nMatch: no.\n"
             "Final Judgment: \\boxed{Negative}")


@pytest.mark.parametrize("text, words", [
    (LINES_NEG, [" no", "Negative"]),
    ("Redo: a\n1+1=2\nChunk: 1+1=2\nMatch: yes.\nRedo: b\n2+2=4\nChunk: 2+2=5\nMatch:no.\n"
     "Final Judgment: \\boxed{ Negative }", [" yes", "no", " Negative"]),
    ("Chunk: none\nMatch: yes.\nFinal Judgment: \\boxed{Positive}", [" yes", "Positive"]),
    ("Analysis: nothing to decide, Match was never written.", []),
    ("", []),
])
def test_decision_char_spans_cover_the_match_words_and_the_verdict(text, words):
    assert [text[a:b] for a, b in decision_char_spans(text)] == words


def _brute_force_mask(ids, tok):
    """Token i is a decision token when its characters (by decoding prefixes) overlap a decision word."""
    text, spans, out = tok.decode(ids), None, []
    spans = decision_char_spans(text)
    for k in range(len(ids)):
        a, b = len(tok.decode(ids[:k])), len(tok.decode(ids[:k + 1]))
        out.append(0 if any(a < e and s < b for s, e in spans) else 1)
    return out


@pytest.mark.parametrize("text", [
    LINES_NEG,
    "Chunk: none\nMatch: yes.\nFinal Judgment: \\boxed{Positive}<|im_end|>",
    "Analysis: caf\u00e9 \u00e9 Match: no.\nFinal Judgment: \\boxed{Negative}",  # multi-byte: the fallback path
    "no decision here",
])
def test_decision_free_mask_zeroes_exactly_the_decision_tokens(tok, text):
    ids = tok(text, add_special_tokens=False)["input_ids"]
    mask = decision_free_mask(ids, tok)
    assert len(mask) == len(ids) and mask == _brute_force_mask(ids, tok)
    masked = "".join(tok.decode([i]) for i, m in zip(ids, mask) if m == 0)
    for word in (text[a:b].strip() for a, b in decision_char_spans(text)):
        assert word in masked  # every decision word is left out of the loss ...
    assert ("Redo" not in masked and "Chunk" not in masked and "12" not in masked)  # ... and nothing of the analysis


def test_decision_free_trainer_sets_the_loss_mask_and_keeps_padding_and_tool_masks(tok):
    import torch

    class Base:  # stands in for GRPOTrainer: records what its _compute_loss receives
        def __init__(self):
            self.processing_class, self.seen = tok, None

        def _compute_loss(self, model, inputs):
            self.seen = inputs
            return "loss"

    ids = tok(LINES_NEG, add_special_tokens=False)["input_ids"]
    other = tok("Chunk: none\nMatch: yes.", add_special_tokens=False)["input_ids"]
    width = len(ids) + 2
    rows = [ids + [tok.pad_token_id] * 2, other + [tok.pad_token_id] * (width - len(other))]
    completion_mask = torch.tensor([[1] * len(ids) + [0, 0], [1] * len(other) + [0] * (width - len(other))])
    tool_mask = torch.ones_like(completion_mask)
    tool_mask[1, 0] = 0
    trainer = _decision_free_trainer(Base)()
    inputs = {"completion_ids": torch.tensor(rows), "completion_mask": completion_mask, "tool_mask": tool_mask}
    assert trainer._compute_loss(None, inputs) == "loss"
    got = trainer.seen["tool_mask"]
    assert got[0].tolist() == decision_free_mask(ids, tok) + [1, 1]
    assert got[1].tolist() == [0] + decision_free_mask(other, tok)[1:] + [1] * (width - len(other))
    assert trainer.seen["completion_mask"] is completion_mask  # attention is untouched, only the loss mask moves
    assert inputs["tool_mask"] is tool_mask  # the caller's batch is not modified


def test_judge_rl_doctests():
    import doctest

    from stepwiser_core import judge_rl

    assert doctest.testmod(judge_rl).failed == 0


def test_trl_multiplies_its_loss_by_the_tool_mask():
    """The decision-free trainer relies on this line of trl's GRPOTrainer._compute_loss (trl 1.16.0)."""
    import inspect

    from trl import GRPOTrainer

    source = inspect.getsource(GRPOTrainer._compute_loss)
    assert 'completion_mask * inputs["tool_mask"]' in source


def test_grpo_trains_with_the_decision_free_loss(tok, tmp_path):
    model = _tiny_judge(tok)
    items = balance(judge_items_from_records([RECORD], "abs_q"), seed=0)
    settings = GRPOSettings(learning_rate=1e-4, max_steps=1, batch_size=8, max_completion_length=6, seed=0)
    log = grpo_train(model, tok, rl_dataset(items, tok), settings, tmp_path, reward="cot", progress=False,
                     decision_loss=False)
    assert [r["step"] for r in log if "reward" in r] == [1]


def test_eval_callback_runs_at_start_every_k_steps_and_at_the_end(capsys):
    import torch
    from transformers import TrainerState

    from stepwiser_core.judge_rl import EvalCallback

    model, state = torch.nn.Linear(1, 1), TrainerState()
    model.train()
    cb = EvalCallback(lambda m: {"acc": float(state.global_step)}, eval_every=2)
    cb.on_train_begin(None, state, None, model=model)
    for step in (1, 2, 3):
        state.global_step = step
        cb.on_step_end(None, state, None, model=model)
    cb.on_train_end(None, state, None, model=model)
    assert state.log_history == [{"eval_acc": 0.0, "step": 0}, {"eval_acc": 2.0, "step": 2},
                                 {"eval_acc": 3.0, "step": 3}]
    assert model.training  # the training mode is restored after each evaluation
    assert "held-out at step 2: acc 2.000" in capsys.readouterr().out  # the curve is shown while it trains


def test_training_trend_averages_the_first_and_last_window_per_run():
    import pandas as pd

    history = pd.DataFrame({
        "run": ["a"] * 6 + ["b"] * 3,
        "step": [0, 1, 5, 9, 13, 17, 1, 5, 9],
        "reward": [float("nan"), 0.2, 0.4, 0.6, 0.8, 1.0, 0.5, 0.5, 0.9],
        "entropy": [float("nan"), 1.0, 1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0],
        "zero_std_share": [float("nan"), 0.0, 0.0, 0.5, 0.5, 1.0, 0.0, 0.0, 0.0]})
    t = training_trend(history, window=8).set_index("run")
    assert t.loc["a", "steps_logged"] == 5  # the evaluation-only step 0 is not a training step
    assert t.loc["a", "reward_first"] == pytest.approx(0.3)   # steps 1, 5
    assert t.loc["a", "reward_last"] == pytest.approx(0.9)    # steps 13, 17 (> 17 - 8)
    assert t.loc["a", "zero_std_share_last"] == pytest.approx(0.75)
    assert t.loc["b", "reward_first"] == pytest.approx(0.5)   # steps 1, 5
    assert t.loc["b", "reward_last"] == pytest.approx(0.7)    # steps 5, 9 (> 9 - 8): the windows may overlap


def test_evaluation_shift_reads_the_first_and_last_evaluation_per_run():
    import pandas as pd

    nan = float("nan")
    history = pd.DataFrame({
        "run": ["a"] * 5 + ["b"] * 3,
        "step": [0, 1, 25, 26, 50, 50, 0, 1],  # b's rows out of order: the shift follows the step, not the row
        "eval_positive_rate": [0.7, nan, 0.6, nan, 0.5, 0.9, 0.8, nan],
        "reward": [nan, 0.5, nan, 0.6, nan, nan, nan, 0.4]})
    t = evaluation_shift(history, columns=("eval_positive_rate",)).set_index("run")
    assert t.loc["a", "step_first"] == 0 and t.loc["a", "step_last"] == 50
    assert t.loc["a", "eval_positive_rate_first"] == pytest.approx(0.7)
    assert t.loc["a", "eval_positive_rate_last"] == pytest.approx(0.5)
    assert t.loc["a", "eval_positive_rate_change"] == pytest.approx(-0.2)
    assert t.loc["b", "eval_positive_rate_change"] == pytest.approx(0.1)  # 0.8 at step 0 → 0.9 at step 50
    a_only = history[history["run"] == "a"]
    early = evaluation_shift(a_only, columns=("eval_positive_rate",), until_step=49).set_index("run")
    assert early.loc["a", "step_last"] == 25 and early.loc["a", "eval_positive_rate_change"] == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="'b' has 1 evaluation"):  # b's only evaluation by step 49 is step 0
        evaluation_shift(history, columns=("eval_positive_rate",), until_step=49)
    with pytest.raises(ValueError, match="needs two"):
        evaluation_shift(history[history["step"] != 50], columns=("eval_positive_rate",))
    with pytest.raises(ValueError, match="no column"):
        evaluation_shift(history, columns=("eval_acc_truth",))


def test_consistent_cot_reward_gates_the_verdict_reward_by_the_analysis():
    from stepwiser_core.judge_rl import REWARDS, consistent_cot_reward

    chunk = "First, 4 more arrive.\n3+4=8"
    block = "Analysis: Redo: First, 4 more arrive.\n{redo}\nChunk: 3+4=8\nMatch: {m}.\nFinal Judgment: \\boxed{{{v}}}"
    faithful = block.format(redo="3+4=7", m="no", v="Negative")
    copied = block.format(redo="3+4=8", m="no", v="Negative")  # right verdict, "no" under identical lines
    comps = [faithful, copied, faithful, "garbage"]
    labels = [False, False, True, False]
    assert cot_reward(comps, labels) == [1.0, 1.0, 0.0, 0.0]
    assert consistent_cot_reward(comps, labels, chunk=[chunk] * 4) == [1.0, 0.0, 0.0, 0.0]
    # conversational completions, as TRL passes them for chat datasets
    assert consistent_cot_reward([[{"role": "assistant", "content": faithful}]], [False], chunk=[chunk]) == [1.0]
    assert REWARDS["cot_consistent"] is consistent_cot_reward
    # shaped: half for the honest comparison whose verdict misses the label, nothing for the copied "no"
    from stepwiser_core.judge_rl import consistency_shaped_reward
    honest_yes = block.format(redo="3+4=8", m="yes", v="Positive")
    assert consistency_shaped_reward([faithful, copied, honest_yes, "garbage"], [False] * 4, chunk=[chunk] * 4) \
        == [1.0, 0.0, 0.5, 0.0]
    with pytest.raises(ValueError):
        consistent_cot_reward(comps, labels, chunk=[chunk])
    # strict: the step's right sentence quoted in place of its equation, with "no", is paid by the plain gate only
    from stepwiser_core.judge_rl import strict_consistent_cot_reward
    sentence = block.format(redo="3+4=7", m="no", v="Negative").replace("Chunk: 3+4=8", "Chunk: First, 4 more arrive.")
    assert consistent_cot_reward([sentence, faithful], [False, False], chunk=[chunk] * 2) == [1.0, 1.0]
    assert strict_consistent_cot_reward([sentence, faithful], [False, False], chunk=[chunk] * 2) == [0.0, 1.0]
    assert REWARDS["cot_consistent_strict"] is strict_consistent_cot_reward


def test_reference_judgment_reward_pays_only_the_teachers_judgment(tok):
    # A diagnostic reward (it reads the truth): 1 for the warm-up teacher's own analysis and verdict of the item.
    from stepwiser_core.instruct import lines_analysis
    from stepwiser_core.judge import format_judgment
    from stepwiser_core.judge_rl import REWARDS, reference_judgment_reward
    from stepwiser_core.world.problems import Operation, Problem

    problem = Problem("Ann has 3 pens. 4 more arrive. How many?", 1, "Ann", "pens", 3, (Operation("add", 4),))
    items = [{"problem": problem, "history": (), "chunk": f"First, 4 more arrive.\n3+4={c}", "step": 0,
              "label": c == 7, "true_label": c == 7, "problem_id": "p", "level": 1} for c in (7, 8)]
    ds = rl_dataset(items, tok, reference=True)
    right, wrong = ds["reference"]
    assert right == format_judgment(*lines_analysis(problem, (), items[0]["chunk"]))
    assert "Chunk: 3+4=8\nMatch: no." in wrong and wrong.endswith("\\boxed{Negative}")
    copied = wrong.replace("3+4=7", "3+4=8")  # the redo repeats the mistake: right verdict, wrong analysis
    flipped = wrong.replace("boxed{Negative}", "boxed{Positive}")
    assert reference_judgment_reward([wrong, copied, flipped, "garbage", right], [wrong] * 4 + [right]) \
        == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert reference_judgment_reward([[{"role": "assistant", "content": right + "\n"}]], [right]) == [1.0]
    assert REWARDS["cot_reference"] is reference_judgment_reward
    assert "reference" not in rl_dataset(items, tok).column_names  # only on request
    # 02's records store the problem's text: the reference is rebuilt from it, the same as from the object
    from stepwiser_core.world.problems import generate_problems
    real = generate_problems(0, 1, split="train")[0]
    chunk = "First, something.\n1+1=3"
    as_text, as_object = ({**items[1], "problem": p, "chunk": chunk, "level": real.level} for p in (real.text, real))
    assert rl_dataset([as_text], tok, reference=True)["reference"] == rl_dataset([as_object], tok, reference=True)[
        "reference"]
    with pytest.raises(ValueError, match="correct history"):  # past the first true error the teacher is undefined
        rl_dataset([{**items[0], "true_label": None}], tok, reference=True)


def test_sampling_headroom_counts_greedy_errors_that_a_sample_fixes():
    from stepwiser_core.judge_rl import sampling_headroom

    greedy = [1.0, 0.0, 0.0, 1.0]
    groups = [[1, 1], [0, 1], [0, 0], [0, 1]]  # item 1: a sample fixes the greedy error; item 2: none does
    strict = [[1, 0], [0, 0], [0, 0], [0, 0]]  # under a stricter reward, item 1's fix does not count
    out = sampling_headroom(greedy, groups, strict)
    assert out == {"greedy": 0.5, "sampled": 4 / 8, "informative": 0.5, "greedy_wrong_sample_right": 0.25,
                   "greedy_wrong_fixed_by": 0.0}
    assert sampling_headroom([0.0], [[1.0, 1.0]], [[0.0, 1.0]])["greedy_wrong_fixed_by"] == 1.0
    assert "greedy_wrong_fixed_by" not in sampling_headroom(greedy, groups)
    with pytest.raises(ValueError, match="one non-empty group"):
        sampling_headroom([1.0], [[]])
    with pytest.raises(ValueError, match="one non-empty group"):
        sampling_headroom([1.0, 0.0], [[1.0]])


# ------------------------------------------------------------------- per-line credit (a diagnostic, NOT the paper)

END = "\x00<end>"  # judge_rl._END, the end unit


@pytest.mark.parametrize("lines, expected", [
    (["a", "b", END], [1.0, 1.0, 1.0]),                 # the reference itself, ended where it ends
    (["a", " b ", END], [1.0, 1.0, 1.0]),               # whitespace at either end of a line is not a departure
    (["a", "x", "b", END], [1.0, 0.0, None, None]),     # after the first departure nothing is credited
    (["x", "b", END], [0.0, None, None]),
    (["a", END], [1.0, 0.0]),                           # stopping early is the departure
    (["a", "b", "c", END], [1.0, 1.0, 0.0, None]),      # going on past the end is one too
    (["a", "b"], [1.0, 1.0]),                           # cut off before its end: no end unit, no credit for it
    ([], []),
])
def test_reference_line_credits(lines, expected):
    from stepwiser_core.judge_rl import reference_line_credits

    assert reference_line_credits(lines, ["a", "b", END]) == expected


def test_line_group_advantages_compare_only_samples_in_the_same_state():
    from stepwiser_core.judge_rl import line_group_advantages

    assert line_group_advantages([[1.0, 1.0], [1.0, 1.0]]) == [[0.0, 0.0], [0.0, 0.0]]  # nothing to prefer
    # Line 0: three of four right (mean 0.75, unbiased std 0.5). Line 1 is reached on track by samples 0, 1, 3
    # only (sample 2 departed at line 0): two right, one wrong. Line 2 is reached by sample 1 alone: no baseline.
    got = line_group_advantages([[1.0, 0.0, None], [1.0, 1.0, 1.0], [0.0, None], [1.0, 1.0]])
    s1 = math.sqrt(1 / 3)
    expected = [[0.25 / 0.5, (0 - 2 / 3) / s1, 0.0], [0.25 / 0.5, (1 / 3) / s1, 0.0], [-0.75 / 0.5, 0.0],
                [0.25 / 0.5, (1 / 3) / s1]]
    for row, want in zip(got, expected, strict=True):
        assert row == pytest.approx(want, abs=1e-3)


def _brute_force_units(ids, tok):
    """Token k's unit: the newlines decoded before its last character; trailing special tokens form one more unit."""
    special, n = set(tok.all_special_ids), len(ids)
    while n and ids[n - 1] in special:
        n -= 1
    units = [tok.decode(ids[:k + 1])[:-1].count("\n") for k in range(n)]
    return units + [tok.decode(ids[:n]).count("\n") + 1] * (len(ids) - n)


@pytest.mark.parametrize("text", [
    LINES_NEG,
    "Chunk: none\nMatch: yes.\nFinal Judgment: \\boxed{Positive}",
    "\n\nAnalysis: two blank lines first\n",
    "Analysis: caf\u00e9\nMatch: no.",  # multi-byte: the fallback path of the offsets
])
@pytest.mark.parametrize("ended", [True, False])
def test_completion_line_units_match_a_brute_force_decoding(tok, text, ended):
    from stepwiser_core.judge_rl import completion_line_units

    ids = tok(text, add_special_tokens=False)["input_ids"] + ([tok.eos_token_id] if ended else [])
    lines, units = completion_line_units(ids, tok)
    assert units == _brute_force_units(ids, tok)
    assert lines == text.split("\n") + ([END] if ended else [])
    assert max(units) < len(lines)


def _group(tok, texts):
    import torch

    rows = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
    width = max(map(len, rows)) + 1  # every row padded at least once
    ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return rows, ids, mask


def test_reference_line_advantages_pay_each_line_on_its_own_tokens(tok):
    from stepwiser_core.judge_rl import completion_line_units, reference_line_advantages

    ref = LINES_NEG
    says_yes = ref.replace("Match: no.", "Match: yes.").replace("Negative", "Positive")  # departs at the Match
    flips = ref.replace("Negative", "Positive")  # right Match, departs at the verdict
    rows, ids, mask = _group(tok, [ref, says_yes, ref, flips])
    adv = reference_line_advantages(ids, mask, [ref] * 4, tok, group_size=4)
    assert adv.shape == ids.shape and (adv[mask == 0] == 0).all()  # padding gets nothing

    def per_line(r):
        lines, units = completion_line_units(rows[r], tok)
        return {lines[u]: float(adv[r, k]) for k, u in enumerate(units)}

    a = [per_line(r) for r in range(4)]
    for r in range(4):  # the lines every sample writes identically carry no advantage
        assert a[r]["12-5=7"] == a[r]["Chunk: 12-5=8"] == 0.0
    assert a[1]["Match: yes."] < 0 < a[0]["Match: no."] == a[2]["Match: no."] == a[3]["Match: no."]
    assert a[3]["Final Judgment: \\boxed{Positive}"] < 0 < a[0]["Final Judgment: \\boxed{Negative}"]
    assert a[1]["Final Judgment: \\boxed{Positive}"] == 0.0  # after its departure: no credit, good or bad
    assert a[0][END] == 0.0  # all three samples on track stop where the reference stops
    # Per state, the advantages of a line sum to zero over the group, as GRPO's do over a group's completions.
    assert a[1]["Match: yes."] + a[0]["Match: no."] * 3 == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="whole groups"):
        reference_line_advantages(ids, mask, [ref] * 4, tok, group_size=3)


def test_balanced_line_credit_weighs_wrong_chunks_as_much_as_right_ones(tok):
    import torch

    from stepwiser_core.judge_rl import reference_line_advantages

    pos_ref = LINES_NEG.replace("Chunk: 12-5=8", "Chunk: 12-5=7").replace("Match: no.", "Match: yes.").replace(
        "Negative", "Positive")
    pos_dep = pos_ref.replace("Match: yes.", "Match: no.").replace("Positive", "Negative")
    neg_dep = LINES_NEG.replace("boxed{Negative}", "boxed{Positive}")  # departs at the verdict line only
    texts, refs = [pos_ref, pos_dep, LINES_NEG, neg_dep], [pos_ref, pos_ref, LINES_NEG, LINES_NEG]
    _, ids, mask = _group(tok, texts)
    plain = reference_line_advantages(ids, mask, refs, tok, group_size=2)
    balanced = reference_line_advantages(ids, mask, refs, tok, group_size=2, balance_verdicts=True)
    assert torch.equal(balanced[:2], plain[:2])  # right chunks (Positive references) keep their advantages
    weight = float(plain[:2].abs().sum() / plain[2:].abs().sum())
    assert weight != 1.0 and torch.allclose(balanced[2:], plain[2:] * weight)
    assert float(balanced[2:].abs().sum()) == pytest.approx(float(balanced[:2].abs().sum()), rel=1e-5)
    capped = reference_line_advantages(ids, mask, refs, tok, group_size=2, balance_verdicts=True,
                                       max_weight=min(weight, 1 / weight))
    assert torch.allclose(capped[2:], plain[2:] * min(weight, 1 / weight))
    only_right = reference_line_advantages(ids[:2], mask[:2], refs[:2], tok, 2, balance_verdicts=True)
    assert torch.equal(only_right, plain[:2])  # nothing to balance against: unchanged


def test_line_credit_trainer_replaces_the_advantages_after_generation(tok):
    from types import SimpleNamespace

    import torch

    from stepwiser_core.judge_rl import _line_credit_trainer, reference_line_advantages

    ref, other = LINES_NEG, LINES_NEG.replace("Match: no.", "Match: yes.").replace("Negative", "Positive")
    rows, ids, mask = _group(tok, [ref, other, other, ref])  # a wrong chunk's group, then a right chunk's

    class Base:  # stands in for GRPOTrainer: generation returns one advantage per completion
        processing_class, num_generations = tok, 2
        accelerator = SimpleNamespace(num_processes=1)

        def __init__(self):
            from collections import defaultdict
            self._metrics = {"train": defaultdict(list)}

        def _generate_and_score_completions(self, inputs):
            return {"completion_ids": ids, "completion_mask": mask, "advantages": torch.tensor([1.0, -1.0, 0.0, 0.0]),
                    "num_items_in_batch": 4}

    inputs = [{"prompt": "p", "reference": ref}] * 2 + [{"prompt": "q", "reference": other}] * 2
    out = _line_credit_trainer(Base)()._generate_and_score_completions(inputs)
    assert out["advantages"].shape == ids.shape  # (batch, tokens), which trl's _compute_loss takes as it is
    assert torch.equal(out["advantages"], reference_line_advantages(ids, mask, [x["reference"] for x in inputs],
                                                                    tok, 2))
    assert out["num_items_in_batch"] == 4 and out["completion_ids"] is ids
    trainer = _line_credit_trainer(Base, balance_verdicts=True)()
    balanced = trainer._generate_and_score_completions(inputs)
    assert torch.equal(balanced["advantages"], reference_line_advantages(
        ids, mask, [x["reference"] for x in inputs], tok, 2, balance_verdicts=True))
    [share], [weight] = trainer._metrics["train"]["line_credit/negative_share"], trainer._metrics["train"][
        "line_credit/negative_weight"]
    assert 0 < share < 1 and weight == pytest.approx((1 - share) / share, rel=1e-5)  # logged: before and factor
    Base.accelerator = SimpleNamespace(num_processes=2)
    with pytest.raises(NotImplementedError, match="one process"):
        _line_credit_trainer(Base)()._generate_and_score_completions(inputs)


def test_trl_takes_per_token_advantages():
    """The per-line credit relies on trl's GRPOTrainer._compute_loss keeping (batch, tokens) advantages (1.16.0)."""
    import inspect

    from trl import GRPOTrainer

    source = inspect.getsource(GRPOTrainer._compute_loss)
    assert "if advantages.dim() == 1:" in source and "advantages = advantages.unsqueeze(1)" in source


def _reference_items():
    from stepwiser_core.world.problems import Operation, Problem

    problem = Problem("Ann has 3 pens. 4 more arrive. How many?", 1, "Ann", "pens", 3, (Operation("add", 4),))
    return [{"problem": problem, "history": (), "chunk": f"First, 4 more arrive.\n3+4={c}", "step": 0,
             "label": c == 7, "true_label": c == 7, "problem_id": "p", "level": 1} for c in (7, 8)] * 2


def test_grpo_trains_with_the_per_line_credit_and_checks_its_inputs(tok, tmp_path):
    model = _tiny_judge(tok)
    data = rl_dataset(_reference_items(), tok, reference=True)
    settings = GRPOSettings(learning_rate=1e-4, max_steps=1, batch_size=8, max_completion_length=6, seed=0)
    log = grpo_train(model, tok, data, settings, tmp_path, reward="cot_reference", progress=False,
                     credit="reference_lines")
    assert [r["step"] for r in log if "reward" in r] == [1]
    with pytest.raises(ValueError, match="reference"):
        grpo_train(model, tok, rl_dataset(_reference_items(), tok), settings, tmp_path, reward="cot", progress=False,
                   credit="reference_lines")
    log = grpo_train(model, tok, data, settings, tmp_path, reward="cot_reference", progress=False,
                     credit="reference_lines_balanced")
    assert [r["step"] for r in log if "reward" in r] == [1]
    with pytest.raises(ValueError, match="unknown credit"):
        grpo_train(model, tok, data, settings, tmp_path, reward="cot_reference", progress=False, credit="tokens")
