"""GRPO on two processes from inside one (torchrun over gloo on the CPU; on GPUs the same path runs over NCCL),
and trained judges held by name and loaded one at a time (`SavedJudges`)."""
import json

import pytest
import torch

from stepwiser_core import judge_rl, judge_runs
from stepwiser_core.models import load_model, save_model
from stepwiser_core.stages import JudgeTrainingConfig

RECORD = {
    "problem_id": 7, "level": 2, "prompt": "Ann has 3 apples.\nFirst, 4 more arrive.\nHow many apples does Ann have?",
    "completions": ["Start: 3.", "3 + 4 = 8.", "So 8 apples.", "Answer: \\boxed{8}"],
    "labels_abs_q": [True, False, True, False], "true_labels": [True, False, None, None],
}


@pytest.fixture()
def init_dir(tmp_path, tiny_model, toy_tokenizer):
    save_model(tiny_model, toy_tokenizer, tmp_path / "init")
    return tmp_path / "init"


def test_a_grpo_run_trains_on_two_processes_and_rank_0_evaluates_once(tmp_path, init_dir, toy_tokenizer):
    items = judge_rl.balance(judge_rl.judge_items_from_records([RECORD], "abs_q"), seed=0) * 2
    items_eval = [{**it, "label_abs_q": it["label"]} for it in items[:2]]
    cfg = JudgeTrainingConfig(rules=["abs_q"], grpo_num_processes=2, max_steps=2, batch_size=4,
                              updates_per_generation=1, max_completion_length=8, eval_every=1, gen_batch_size=8)
    model, frame = judge_runs.train_grpo_judge("stepwiser_abs_q", "abs_q", items, items_eval, toy_tokenizer, cfg,
                                               init_dir, tmp_path / "run")
    work = tmp_path / "run" / "trainer" / "stepwiser_abs_q"
    assert json.loads((work / "log_history.json").read_text())["world_size"] == 2
    evaluated = frame.dropna(subset=["eval_acc_truth"])["step"].tolist()
    assert evaluated == [0, 1, 2]  # before training, after each step, once each: rank 0 alone evaluates
    assert frame.dropna(subset=["reward"])["step"].tolist() == [1, 2]
    logged = json.loads((work / "log_history.json").read_text())["log_history"]
    # the evaluation's own key order (acc_truth, format_rate, ...), not sorted, so grpo_history.csv has the columns of
    # an in-process run
    assert list(logged[0]) != sorted(logged[0]) and list(logged[0])[:2] == ["eval_acc_truth", "eval_format_rate"]
    # (an untrained model writes no verdict, so every reward is 0 and the weights cannot move: what comes back is
    # checked to be what rank 0 saved, and saved again where an in-process run saves its judge)
    saved, _ = load_model(tmp_path / "run" / "judges" / "stepwiser_abs_q")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), saved.state_dict().values()))
    ranked, _ = load_model(work / "model")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ranked.state_dict().values()))


def test_a_failed_launch_raises_with_the_processes_own_error(tmp_path, toy_tokenizer):
    items = judge_rl.judge_items_from_records([RECORD], "abs_q")
    cfg = JudgeTrainingConfig(rules=["abs_q"], grpo_num_processes=2, max_steps=1, batch_size=4, eval_every=0)
    with pytest.raises(RuntimeError, match=r"(?s)failed \(exit [1-9].*no model at"):
        judge_runs.train_grpo_judge("x", "abs_q", items, [], toy_tokenizer, cfg, tmp_path / "missing", tmp_path / "run")


def test_saved_judges_keep_names_and_load_each_judge_when_read(tmp_path, tiny_model, toy_tokenizer):
    judges = judge_runs.SavedJudges(tmp_path / "judges")
    with pytest.raises(FileNotFoundError, match="no saved judge 'a'"):
        judges["a"] = tiny_model  # only a judge its train function has saved can be registered
    for name in ("b", "a"):
        save_model(tiny_model, toy_tokenizer, tmp_path / "judges" / name)
        judges[name] = tiny_model
    assert list(judges) == ["b", "a"] and len(judges) == 2 and "c" not in judges
    loaded = judges["a"]
    assert loaded is not tiny_model  # the registered model is not kept ...
    assert all(torch.equal(x, y) for x, y in zip(loaded.state_dict().values(), tiny_model.state_dict().values()))
    assert list(judge_runs.SavedJudges(tmp_path / "judges", ["a"])) == ["a"]  # ... only its name
    with pytest.raises(KeyError):
        judges["c"]
