"""Stage 03 orchestration helpers that need no model: training sets, the judge registry, the stage metrics."""
import json
from pathlib import Path

import pandas as pd
import pytest

from stepwiser_core import judge_runs, toy_processbench
from stepwiser_core.stages import JudgeTrainingConfig

PROBLEM = "Ann has 3 pens.\nFirst, 2 more arrive.\nHow many pens does Ann have now?"


def record(pid, labels):
    return {"problem_id": pid, "level": 1, "prompt": PROBLEM, "completions": [f"s{i}" for i in range(len(labels))],
            "true_labels": labels, "labels_abs_q": labels, "labels_rel_ratio": [True] * len(labels)}


def test_training_sets_balance_per_rule_and_report_the_paper_share():
    cfg = JudgeTrainingConfig(rules=["abs_q"])
    items, balanced, table = judge_runs.training_sets([record("a", [True, True, False]), record("b", [True])], cfg)
    assert len(items["abs_q"]) == 4 and len(balanced["abs_q"]) == 2  # 3 Positive, 1 Negative -> 1 + 1
    row = table.iloc[0]
    assert (row["rule"], row["items"], row["positive_share"], row["paper_positive_share"],
            row["items_after_balancing"]) == ("abs_q", 4, 0.75, 0.702, 2)
    assert row["negatives_after_first_error"] == 0.0  # the one Negative is the first error itself


def test_grpo_balance_seed_redraws_the_balanced_subset_and_nothing_else():
    # 12 Positive and 2 Negative items: balancing keeps both Negatives and 2 of the 12 Positives, drawn by a seed
    records = [record(f"p{i}", [True, True, True, True, True, True, False]) for i in range(2)]
    def kept(**kw) -> list[tuple[str, str]]:
        _, balanced, _ = judge_runs.training_sets(records, JudgeTrainingConfig(rules=["abs_q"], **kw))
        return [(it["problem_id"], it["step"]) for it in balanced["abs_q"]]
    # -1 follows `seed`: every earlier run keeps its balanced subset
    assert kept(seed=3) == kept(seed=3, grpo_balance_seed=3) == kept(seed=3, grpo_balance_seed=-1)
    assert kept(seed=7, grpo_balance_seed=3) == kept(seed=3)  # the subset follows the balance seed, not `seed`
    draws = {tuple(sorted(kept(seed=0, grpo_balance_seed=b))) for b in range(6)}
    assert len(draws) > 1  # other balance seeds keep other Positives
    with pytest.raises(ValueError, match="grpo_balance_seed must be -1"):
        JudgeTrainingConfig(grpo_balance_seed=-2)


def test_training_sets_count_negatives_after_the_first_true_error():
    cfg = JudgeTrainingConfig(rules=["abs_q"], balance=False)
    rec = record("a", [True, False, False, False])
    rec["true_labels"] = [True, False, None, None]  # the exact checker says nothing after the first error
    table = judge_runs.training_sets([rec], cfg)[2]
    assert table.iloc[0]["negatives_after_first_error"] == 2 / 3


def test_registry_kinds_rules_and_the_zero_shot_entry():
    reg = judge_runs.judge_registry(["stepwiser_abs_q", "no_cot", "rs_ft"], ["disc_sft_rel_ratio"],
                                    Path("r"), Path("init"), "rel_ratio")
    assert reg["stepwiser_abs_q"] == {"path": str(Path("r/judges/stepwiser_abs_q")), "kind": "cot", "rule": "abs_q"}
    assert (reg["no_cot"]["kind"], reg["no_cot"]["rule"]) == ("direct", "rel_ratio")
    assert (reg["rs_ft"]["kind"], reg["disc_sft_rel_ratio"]["kind"]) == ("cot", "disc")
    assert reg["zero_shot"] == {"path": "init", "kind": "cot", "rule": None}


def test_stage_metrics_take_each_runs_last_logged_values():
    cfg = JudgeTrainingConfig(rules=["abs_q"])
    summary = pd.DataFrame([{"judge": "zero_shot", "acc_truth": 0.5, "format_rate": 1.0, "acc_abs_q": 0.6}])
    history = pd.DataFrame({"run": ["x", "x"], "step": [1, 2], "reward": [0.2, 0.4], "entropy": [1.0, 0.5],
                            "zero_std_share": [0.1, 0.3]})
    m = judge_runs.stage_metrics(cfg, summary, history, pd.DataFrame([{"rule": "abs_q"}]))
    assert m["grpo_final"] == {"x": {"reward": 0.4, "entropy": 0.5, "zero_std_share": 0.3}}
    assert m["heldout_step_accuracy"] == {"zero_shot": {"acc_truth": 0.5, "format_rate": 1.0, "acc_abs_q": 0.6}}


def test_grpo_judge_gets_every_stage_setting_including_updates_per_generation(monkeypatch, tmp_path):
    # The clip-higher ablation is void unless the stage's updates_per_generation reaches TRL (first toy run).
    from stepwiser_core import judge_rl, judge_runs
    from stepwiser_core.stages import JudgeTrainingConfig

    seen = {}

    def fake_grpo_train(model, tokenizer, data, settings, output_dir, reward, eval_fn, eval_every, decision_loss,
                        credit, isolate_eval_rng):
        seen.update(settings=settings, reward=reward, n=len(data), decision_loss=decision_loss, credit=credit,
                    isolate=isolate_eval_rng)
        return [{"step": 1, "loss": 0.0}]

    monkeypatch.setattr(judge_runs, "load_model", lambda path: ("model", None))
    monkeypatch.setattr(judge_runs, "save_model", lambda *a: None)
    monkeypatch.setattr(judge_rl, "rl_dataset", lambda items, *a, **k: seen.update(dataset=k) or list(items))
    monkeypatch.setattr(judge_rl, "grpo_train", fake_grpo_train)
    monkeypatch.setattr(judge_runs.judge_stage, "generative_eval_fn", lambda *a, engine, **k: seen.update(engine=engine))
    cfg = JudgeTrainingConfig(updates_per_generation=3, learning_rate=1e-5, max_steps=7, gradient_accumulation_steps=2)
    judge_runs.train_grpo_judge("no_clip_higher", "rel_ratio", [{}, {}], [], None, cfg, tmp_path, tmp_path,
                                epsilon_high=cfg.epsilon_low)
    s = seen["settings"]
    assert (s.updates_per_generation, s.learning_rate, s.max_steps, s.gradient_accumulation_steps) == (3, 1e-5, 7, 2)
    assert s.epsilon_high == s.epsilon_low == 0.2 and seen["reward"] == "cot" and seen["n"] == 2
    assert seen["decision_loss"]  # the stage's runs train on the whole completion, the paper's loss ...
    assert seen["credit"] == "sequence"  # ... with one advantage per completion, the paper's credit
    assert seen["isolate"] and seen["engine"]  # by default the evaluation cannot move GRPO's draws ...
    assert not s.use_vllm  # ... and TRL samples with model.generate
    coupled = JudgeTrainingConfig(grpo_eval_isolated=False)  # ... the earlier toy runs' setting keeps the coupling
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, coupled, tmp_path, tmp_path)
    assert not seen["isolate"] and not seen["engine"]
    on_gpus = JudgeTrainingConfig(grpo_use_vllm=True, grpo_vllm_gpu_memory_utilization=0.25)  # the paper tier's
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, on_gpus, tmp_path, tmp_path)
    assert seen["settings"].use_vllm and seen["settings"].vllm_gpu_memory_utilization == 0.25


def test_grpo_run_specs_follow_the_switches():
    cfg = JudgeTrainingConfig(rules=["abs_q", "rel_ratio"], ablation_rule="rel_ratio")
    assert judge_runs.grpo_run_specs(cfg) == [
        ("stepwiser_abs_q", "abs_q", {}), ("stepwiser_rel_ratio", "rel_ratio", {}),
        ("no_clip_higher", "rel_ratio", {"epsilon_high": 0.2}), ("no_cot", "rel_ratio", {"cot": False})]
    off = JudgeTrainingConfig(rules=["abs_q"], run_no_clip_higher=False, run_no_cot=False)
    assert judge_runs.grpo_run_specs(off) == [("stepwiser_abs_q", "abs_q", {})]


def test_warm_up_off_returns_the_init_unchanged(tmp_path):
    assert judge_runs.warm_up_judge(tmp_path / "init", JudgeTrainingConfig(), tmp_path) == tmp_path / "init"


def test_warm_up_trains_a_saved_copy_on_exercises_that_avoid_the_benchmark(tmp_path, tiny_model, toy_tokenizer,
                                                                           monkeypatch):
    from stepwiser_core.models import load_model, save_model
    from stepwiser_core.world.problems import generate_problems

    save_model(tiny_model, toy_tokenizer, tmp_path / "init")
    seen = {}
    real_sft = judge_runs.sft_train

    def spy(model, tokenizer, examples, settings, output_dir, seed):
        seen["examples"], seen["settings"] = examples, settings
        return real_sft(model, tokenizer, examples, settings, output_dir, seed, progress=False)

    monkeypatch.setattr(judge_runs, "sft_train", spy)
    monkeypatch.setattr(toy_processbench, "BENCHMARK_PREFIX", 5)  # a small prefix keeps the test fast
    benchmark = {p.text for p in generate_problems(0, 5, split="processbench")}
    candidates = generate_problems(0, 40, split="judge_warmup")
    excluded_extra = candidates[0].text
    cfg = JudgeTrainingConfig(judge_warmup_steps=2, judge_warmup_problems_per_level=40)
    out = judge_runs.warm_up_judge(tmp_path / "init", cfg, tmp_path / "run", [excluded_extra])
    assert out == tmp_path / "run" / "judge_init" and (out / "config.json").exists()
    load_model(out)  # a loadable judge init
    log = pd.read_csv(out / judge_runs.WARMUP_LOG)  # the loss curve, kept beside the init
    losses = log.dropna(subset=["loss"])
    assert list(losses["step"]) == [1, 2] and losses["loss"].gt(0).all()
    prompts = " ".join(e.prompt for e in seen["examples"])
    assert excluded_extra not in prompts and not any(t in prompts for t in benchmark)
    # one exercise per remaining problem, in the "redo" analysis, about half of them judging a wrong chunk
    assert 0 < len(seen["examples"]) <= len(candidates)
    cot = [e.completion for e in seen["examples"] if e.completion.startswith("Analysis: ")]
    assert all(c.startswith("Analysis: Redo: ") for c in cot)
    assert 0.35 < sum("Match: no." in c for c in cot) / len(cot) < 0.65
    assert (seen["settings"].max_steps, seen["settings"].learning_rate) == (2, 1e-3)

    # a rerun with the same settings resumes from the saved init; other settings train anew
    seen.clear()
    assert judge_runs.warm_up_judge(tmp_path / "init", cfg, tmp_path / "run", [excluded_extra]) == out
    assert not seen
    other = JudgeTrainingConfig(judge_warmup_steps=2, judge_warmup_problems_per_level=40,
                                judge_warmup_verdict_accuracy=1.0)
    judge_runs.warm_up_judge(tmp_path / "init", other, tmp_path / "run", [excluded_extra])
    assert seen and all(e.completion.endswith("{Negative}") == ("Match: no." in e.completion)
                        for e in seen["examples"] if e.completion.startswith("Analysis: "))
    # a stamp written before `judge_warmup_glance_share` existed means no rubber stamps: still resumed
    stamp = json.loads((out / judge_runs.WARMUP_STAMP).read_text())
    del stamp["judge_warmup_glance_share"]
    (out / judge_runs.WARMUP_STAMP).write_text(json.dumps(stamp))
    seen.clear()
    judge_runs.warm_up_judge(tmp_path / "init", other, tmp_path / "run", [excluded_extra])
    assert not seen
    # the lazy strategy reaches the exercises, and retrains
    glance = JudgeTrainingConfig(judge_warmup_steps=2, judge_warmup_problems_per_level=40,
                                 judge_warmup_verdict_accuracy=1.0, judge_warmup_glance_share=0.5)
    judge_runs.warm_up_judge(tmp_path / "init", glance, tmp_path / "run", [excluded_extra])
    assert any(e.completion.startswith("Analysis: Chunk: ") and "Looks right." in e.completion
               for e in seen["examples"])
    # a new init at the same path (notebook 01 re-run) is not mistaken for the old one
    seen.clear()
    other_model, _ = load_model(out)
    save_model(other_model, toy_tokenizer, tmp_path / "init")
    judge_runs.warm_up_judge(tmp_path / "init", other, tmp_path / "run", [excluded_extra])
    assert seen


def test_heldout_summary_lists_every_already_evaluated_judge_first_in_order():
    class Evaluated:  # what heldout_summary reads of a HeldoutEvaluation when nothing was trained
        scored = {"init_before_warmup": None, "zero_shot": None}

        def summary(self, name):
            return {"acc_truth": {"init_before_warmup": 0.5, "zero_shot": 0.6}[name]}

    table = judge_runs.heldout_summary(Evaluated(), {}, {}, None)
    assert table.to_dict("records") == [{"judge": "init_before_warmup", "acc_truth": 0.5},
                                        {"judge": "zero_shot", "acc_truth": 0.6}]


def test_grpo_variant_options_and_unknown_variant():
    cfg = JudgeTrainingConfig(epsilon_low=0.15)
    assert judge_runs.grpo_variant_options("stepwiser", cfg) == {}
    assert judge_runs.grpo_variant_options("no_clip_higher", cfg) == {"epsilon_high": 0.15}
    assert judge_runs.grpo_variant_options("no_cot", cfg) == {"cot": False}
    with pytest.raises(ValueError, match="unknown GRPO variant 'no_kl'"):
        judge_runs.grpo_variant_options("no_kl", cfg)


def test_consistent_reward_variant_reaches_trl_as_the_gated_reward(monkeypatch, tmp_path):
    from stepwiser_core import judge_rl

    seen = {}
    monkeypatch.setattr(judge_runs, "load_model", lambda path: ("model", None))
    monkeypatch.setattr(judge_runs, "save_model", lambda *a: None)
    monkeypatch.setattr(judge_rl, "rl_dataset", lambda items, *a, **k: seen.update(dataset=k) or list(items))
    monkeypatch.setattr(judge_rl, "grpo_train", lambda *a, reward, decision_loss=True, credit="sequence", **k:
                        seen.update(reward=reward, decision_loss=decision_loss, credit=credit) or [{"step": 1}])
    monkeypatch.setattr(judge_runs.judge_stage, "generative_eval_fn", lambda *a, **k: None)
    cfg = JudgeTrainingConfig()
    options = judge_runs.grpo_variant_options("consistent_reward", cfg)
    assert options == {"cot_reward": "cot_consistent"}
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **options)
    assert seen["reward"] == "cot_consistent" and seen["reward"] in judge_rl.REWARDS
    shaped = judge_runs.grpo_variant_options("consistency_shaped", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **shaped)
    assert seen["reward"] == "cot_consistency_shaped" and seen["reward"] in judge_rl.REWARDS
    strict = judge_runs.grpo_variant_options("consistent_reward_strict", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **strict)
    assert seen["reward"] == "cot_consistent_strict" and seen["reward"] in judge_rl.REWARDS
    assert not seen["dataset"]["reference"]  # the teacher's judgments only for the reward that reads them
    reference = judge_runs.grpo_variant_options("reference_reward", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **reference)
    assert seen["reward"] == "cot_reference" and seen["reward"] in judge_rl.REWARDS and seen["dataset"]["reference"]
    assert seen["decision_loss"]  # every variant above trains on the whole completion ...
    free = judge_runs.grpo_variant_options("decision_free", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **free)
    assert seen["reward"] == "cot" and not seen["decision_loss"]  # ... this one leaves the decisions out of the loss
    both = judge_runs.grpo_variant_options("decision_free_strict", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **both)
    assert seen["reward"] == "cot_consistent_strict" and not seen["decision_loss"]
    assert seen["credit"] == "sequence"  # every variant above credits the whole completion ...
    lines = judge_runs.grpo_variant_options("reference_lines", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **lines)
    assert seen["credit"] == "reference_lines" and seen["reward"] == "cot_reference"  # ... this one each line
    assert seen["dataset"]["reference"] and seen["decision_loss"]
    balanced = judge_runs.grpo_variant_options("reference_lines_balanced", cfg)
    judge_runs.train_grpo_judge("x", "abs_q", [{}], [], None, cfg, tmp_path, tmp_path, **balanced)
    assert seen["credit"] == "reference_lines_balanced" and seen["dataset"]["reference"]
    with pytest.raises(ValueError, match="unknown GRPO variant"):
        judge_runs.grpo_variant_options("nope", cfg)


def test_warm_up_leaves_out_the_benchmark_of_stage_04s_seed_not_its_own():
    # Short level-1 problems recur across splits: a warm-up drawn with seed 1 contains problems of the seed-0
    # benchmark prefix unless that prefix, not seed 1's, is the one left out.
    from stepwiser_core.stages import BENCHMARK_PREFIX
    from stepwiser_core.world.problems import generate_problems

    benchmark = {p.text for p in generate_problems(0, BENCHMARK_PREFIX, split="processbench")}
    own_seed = {p.text for p in judge_runs.warmup_problems(1, 2000, benchmark_seed=1)}
    assert own_seed & benchmark  # the leak the benchmark seed closes
    fixed = judge_runs.warmup_problems(1, 2000, benchmark_seed=0, exclude_texts=[sorted(own_seed)[0]])
    assert fixed and not {p.text for p in fixed} & benchmark
    assert sorted(own_seed)[0] not in {p.text for p in fixed}


def test_benchmark_check_finds_the_problems_a_warm_up_trained_on(tmp_path):
    import json

    from stepwiser_core import pb_stage
    from stepwiser_core.processbench import PBRecord

    seen = [p.text for p in judge_runs.warmup_problems(1, 20, benchmark_seed=0)]
    init = tmp_path / "judge_init"
    init.mkdir()
    stamp = {"seed": 1, "benchmark_seed": 0, "exclude_texts": [], "judge_warmup_problems_per_level": 20}
    (init / judge_runs.WARMUP_STAMP).write_text(json.dumps(stamp))

    def bench(*problems):
        return {"gsm8k": [PBRecord(f"gsm8k-{i}", "toy", text, ("1+1=2",), True, -1) for i, text in enumerate(problems)]}

    registry = {"zero_shot": {"path": str(init), "kind": "cot", "rule": ""}}
    assert judge_runs.warmup_benchmark_overlap(init, [seen[3], "not a warm-up problem"]) == [seen[3]]
    with pytest.raises(ValueError, match="1 benchmark problems were in the judge warm-up.*benchmark_seed"):
        pb_stage.check_benchmark_unseen(bench(seen[3], "not a warm-up problem"), registry)
    pb_stage.check_benchmark_unseen(bench("not a warm-up problem"), registry)
    # a problem the stamp's exclusions left out was not trained on
    (init / judge_runs.WARMUP_STAMP).write_text(json.dumps({**stamp, "exclude_texts": [seen[3]]}))
    pb_stage.check_benchmark_unseen(bench(seen[3]), registry)
    # stamps from before `benchmark_seed` left out the benchmark of their own seed
    old = {k: v for k, v in stamp.items() if k != "benchmark_seed"}
    (init / judge_runs.WARMUP_STAMP).write_text(json.dumps(old))
    assert judge_runs.warmup_benchmark_overlap(init, seen) == sorted(
        {p.text for p in judge_runs.warmup_problems(1, 20, benchmark_seed=1)} & set(seen))
    # no warm-up (the paper tier): nothing to check
    pb_stage.check_benchmark_unseen(bench(seen[3]), {"zero_shot": {"path": str(tmp_path / "none")}})


def test_benchmark_check_finds_the_problems_notebook_02_labelled(tmp_path):
    from datasets import Dataset

    from stepwiser_core import pb_stage
    from stepwiser_core.processbench import PBRecord
    from stepwiser_core.world.problems import generate_problems

    labelled, other = generate_problems(0, 2, levels=(2,), split="annotation")
    runs = tmp_path / "toy"
    Dataset.from_list([{"prompt": f"Solve: {labelled.text}\nAnswer:"}]).save_to_disk(
        str(runs / "02_rollout_labels" / "stepwise_chunks"))
    bench = {"math": [PBRecord(f"math-{i}", "toy", p.text, ("1+1=2",), True, -1) for i, p in enumerate((labelled, other))]}

    # 03 ran interactively (no config.yaml): its labels are 02's run folder beside it
    judges_dir = runs / "03_judge_training"
    judges_dir.mkdir()
    labels_dir = pb_stage.judges_labels_dir(judges_dir)
    assert labels_dir == runs / "02_rollout_labels"
    assert pb_stage.labelled_problems_overlap(labels_dir, [other.text, labelled.text]) == [labelled.text]
    with pytest.raises(ValueError, match="1 benchmark problems are in notebook 02's labelled data.*benchmark_seed"):
        pb_stage.check_benchmark_unseen(bench, {}, labels_dir)
    pb_stage.check_benchmark_unseen({"math": bench["math"][1:]}, {}, labels_dir)
    # 03's recorded labels_dir wins; a folder without stepwise datasets holds nothing
    (judges_dir / "config.yaml").write_text(f"seed: 0\nlabels_dir: {tmp_path / 'elsewhere'}\n")
    assert pb_stage.judges_labels_dir(judges_dir) == tmp_path / "elsewhere"
    pb_stage.check_benchmark_unseen(bench, {}, pb_stage.judges_labels_dir(judges_dir))
    (judges_dir / "config.yaml").write_text("seed: 0\nlabels_dir: ''\n")
    assert pb_stage.judges_labels_dir(judges_dir) == runs / "02_rollout_labels"


def test_both_segmentations_train_on_the_union_of_02s_datasets_split_by_problem(tmp_path):
    from datasets import Dataset

    def saved(segmentation: str, n: int) -> list[dict]:
        rows = [{**record(f"p{i}", [True, i % 3 != 0, i % 2 == 0][:1 + i % 3]), "segmentation": segmentation}
                for i in range(n)]
        Dataset.from_list(rows).save_to_disk(str(tmp_path / f"stepwise_{segmentation}"))
        return rows

    chunks, blank = saved("chunks", 10), saved("blankline", 10)
    assert judge_runs.load_records(tmp_path, "both") == chunks + blank
    split = {seg: judge_runs.load_split(tmp_path, JudgeTrainingConfig(segmentation=seg, rules=["abs_q"], seed=4,
                                                                      eval_items_per_class=2))
             for seg in ("chunks", "blankline", "both")}
    train, held, _ = split["both"]
    assert len(train) + len(held) == 20
    assert not {r["problem_id"] for r in train} & {r["problem_id"] for r in held}  # a problem on one side only
    # the same problems on the same side as when each segmentation trains alone
    for seg in ("chunks", "blankline"):
        assert [r for r in train if r["segmentation"] == seg] == split[seg][0]
        assert [r for r in held if r["segmentation"] == seg] == split[seg][1]
    with pytest.raises(ValueError, match="segmentation must be one of"):
        JudgeTrainingConfig(segmentation="blanklines")
    with pytest.raises(ValueError, match="segmentation must be one of"):
        judge_runs.load_records(tmp_path, "paragraphs")
