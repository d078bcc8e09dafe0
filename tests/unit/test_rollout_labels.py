"""Stage-02 helpers: cutting a response at its steps, the rule set, and success matrices."""
import numpy as np
import pytest

from stepwiser_core import rollout_labels as rl
from stepwiser_core.labels import LABEL_RULES, label_trajectory
from stepwiser_core.rollout_labels import Trajectory, cut_points, rules_from_config, success_matrices
from stepwiser_core.stages import RolloutLabelConfig
from stepwiser_core.verify import ExactVerifier
from stepwiser_core.world.problems import generate_problems


def test_rules_from_config_covers_every_rule_and_is_accepted_by_each():
    rules = rules_from_config(0.8, 0.4, 4, "abs")
    assert set(rules) == set(LABEL_RULES)
    # Q 0.5 -> 0.25: ratio 0.5 <= 0.8 is Negative; Abs-Q is Positive (0.25 > 0).
    assert label_trajectory("rel_ratio", [0.25], 0.5, **rules["rel_ratio"]) == [False]
    assert label_trajectory("abs_q", [0.25], 0.5, **rules["abs_q"]) == [True]


def test_cut_points_continue_right_after_each_step():
    text = "<chunk>a\nb</chunk>\n<chunk>c</chunk>"
    steps, ends = cut_points(text, "chunks")
    assert steps == ["a\nb", "c"] and text[:ends[0]].endswith("</chunk>") and ends[1] == len(text)
    steps, ends = cut_points("x\ny\n\nz\n\n\n w", "blankline")
    assert steps == ["x\ny", "z", " w"] and ends[0] == 3


def test_success_matrix_last_row_is_the_known_outcome():
    p = generate_problems(0, 1, levels=(1,))[0]
    t = Trajectory(p, "s1\n\ns2", ["s1", "s2"], [2, 6], True, 0.5, None)
    m = success_matrices([t], [[f"\\boxed{{{p.answer}}}", "\\boxed{-1}"]], ExactVerifier(), 2)[0]
    assert m.tolist() == [[1, 0], [1, 1]] and m.dtype == np.int8


def test_adaptive_tradeoff_abs_q_stops_at_the_first_success():
    from stepwiser_core.rollout_labels import adaptive_tradeoff

    p = generate_problems(0, 1, levels=(1,))[0]
    t = Trajectory(p, "a\n\nb\n\nc", ["a", "b", "c"], [1, 4, 7], True, 0.5, None)
    # chunk 0: first success at draw 3 -> 3 rollouts; chunk 1: never succeeds -> all 4; chunk 2: outcome known
    succ = np.array([[0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=np.int8)
    table = adaptive_tradeoff([succ], [t], rules_from_config(0.8, 0.4, 4, "abs"), 4, [None, 0.9])
    exact = table[(table.rule == "abs_q") & (table.confidence == "exact")].iloc[0]
    assert exact.rollout_fraction_used == (3 + 4) / (2 * 4) and exact.agreement_with_m16 == 1.0
    assert set(table.confidence) == {"exact", 0.9} and set(table.rule) == set(LABEL_RULES)
    assert set(table.stopping) == {"sequential", "joint"}
    # Abs-Q ignores the previous chunk, so joint stopping draws exactly what sequential stopping draws
    abs_q = table[table.rule == "abs_q"].set_index(["stopping", "confidence"]).rollout_fraction_used
    assert abs_q["joint"].tolist() == abs_q["sequential"].tolist()


def test_label_balance_table_and_q_frame():
    from stepwiser_core.rollout_labels import label_balance_table, q_frame

    recs = [{"labels_abs_q": [True, False], "labels_rel_ratio": [False, False], "q_values": [0.5, 0.0],
             "true_labels": [True, False]},
            {"labels_abs_q": [True], "labels_rel_ratio": [True], "q_values": [1.0], "true_labels": [None]}]
    table = label_balance_table(recs, ["abs_q", "rel_ratio"]).set_index("rule")
    assert table.positive_share.to_dict() == {"abs_q": 2 / 3, "rel_ratio": 1 / 3}
    assert table.paper.to_dict() == {"abs_q": 0.702, "rel_ratio": 0.565}
    after_error = {"labels_abs_q": [False, True], "labels_rel_ratio": [False, True], "q_values": [0.1, 0.2],
                   "true_labels": [False, None]}
    qs = q_frame([*recs, after_error])
    assert qs.to_dict("records") == [{"q": 0.5, "step": "intermediate", "truth": "correct"},
                                     {"q": 0.0, "step": "final", "truth": "first error"},
                                     {"q": 1.0, "step": "final", "truth": "unknown"},  # no checker (NuminaMath)
                                     {"q": 0.1, "step": "intermediate", "truth": "first error"},
                                     {"q": 0.2, "step": "final", "truth": "after an error"}]


def test_annotation_problems_leave_out_the_benchmark_of_stage_04s_seed():
    # Short level-1 problems recur across splits: 960 annotation prompts of seed 0 hold problems of the seed-0
    # benchmark prefix, which the judges would train on without the exclusion.
    from stepwiser_core.stages import BENCHMARK_PREFIX
    from stepwiser_core.world.problems import generate_problems

    benchmark = {p.text for p in generate_problems(0, BENCHMARK_PREFIX, split="processbench")}
    plain = generate_problems(0, 240, split="annotation")
    assert {p.text for p in plain} & benchmark  # the leak exists without the exclusion
    kept = rl.annotation_problems(0, 960, benchmark_seed=0)
    assert not {p.text for p in kept} & benchmark
    assert [p for p in plain if p.text not in benchmark] == kept  # otherwise the same prompts, in the same order
    # another benchmark seed leaves out another prefix; with few prompts nothing needs leaving out
    assert rl.annotation_problems(0, 960, benchmark_seed=1) != kept
    assert rl.annotation_problems(0, 240, benchmark_seed=0) == generate_problems(0, 60, split="annotation")


def test_numina_prompts_give_trajectories_and_records_without_truth(tmp_path):
    """NuminaMath prompts (the paper tier) have no exact checker: the records say so rather than guess."""
    import datasets

    from stepwiser_core.numina import MathProblem
    from stepwiser_core.verify import MathVerifyVerifier

    rows = [{"source": "amc_aime", "problem": f"Find $x$ if $2x = {k}$.", "solution": f"So $x = \\boxed{{\\frac{{{k}}}{{2}}}}$."}
            for k in (1, 3, 5)]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "train-00000-of-00001.parquet"))
    verifier = MathVerifyVerifier()
    problems, counts = rl.stage_problems("numina", 2, 0, 0, verifier, str(tmp_path))
    assert len(problems) == 2 and all(isinstance(p, MathProblem) for p in problems) and counts["kept"] == 2
    toy, toy_counts = rl.stage_problems("toy", 8, 0, 0, verifier)
    assert toy == rl.annotation_problems(0, 8, 0) and toy_counts == {"kept": len(toy)}

    samples = [[f"<chunk>Halve it.</chunk><chunk>$\\boxed{{{q.answer}}}$</chunk>", "<chunk>$\\boxed{7}$</chunk>"]
               for q in problems]  # one right, one wrong sample per prompt
    assert rl.exact_first_error(problems[0], ["Halve it."]) == (False, None)
    kept = rl.prefilter(problems, samples, verifier)  # pass rate 1/2: both kept
    assert [k[1] for k in kept] == [0.5, 0.5] and len(rl.prefilter(problems, samples, verifier, max_kept=1)) == 1
    trajectories = rl.make_trajectories(kept[:1], verifier, "chunks", 2)
    assert [t.correct for t in trajectories] == [True, False]
    assert all(not t.truth_known and t.true_labels() == [None] * len(t.steps) for t in trajectories)
    successes = [np.ones((2, 2), dtype=np.int8), np.zeros((1, 2), dtype=np.int8)]
    rules = rules_from_config(0.8, 0.4, 4, "abs")
    records = rl.stepwise_records(trajectories, successes, 2, rules, "rel_ratio", "chunks", "paper-chunk-policy", 0)
    assert [r["true_first_error"] for r in records] == [None, None]
    assert records[0]["true_labels"] == [None, None] and records[0]["labels_abs_q"] == [True, True]
    quality = rl.quality_vs_m(successes, trajectories, rules, [1, 2])
    assert quality["agreement"].isna().all()  # nothing to agree with: NaN, not 0


def test_toy_trajectories_keep_their_exact_truth():
    p = generate_problems(0, 1, levels=(1,))[0]
    known, first_error = rl.exact_first_error(p, ["nonsense"])
    assert known and first_error == 0
    t = Trajectory(p, "x", ["nonsense"], [1], False, 0.5, 0)
    assert t.truth_known and t.true_labels() == [False]


def test_an_untagged_sample_is_dropped_or_one_chunk_and_nothing_to_label_is_a_clear_error(monkeypatch):
    p = generate_problems(0, 1, levels=(1,))[0]
    kept = [(p, 0.5, ["no tags here", "<chunk>x = 1</chunk>", "\n\n"])]
    verifier = ExactVerifier()
    assert [t.steps for t in rl.make_trajectories(kept, verifier, "chunks", 3)] == [["x = 1"]]
    whole = rl.make_trajectories(kept, verifier, "chunks", 3, untagged="one_chunk")
    assert [t.steps for t in whole] == [["no tags here"], ["x = 1"]]  # a blank response still has no step
    assert whole[0].ends == [len("no tags here")] and whole[0].truth_known
    with pytest.raises(ValueError, match="unknown untagged"):
        rl.make_trajectories(kept, verifier, "chunks", 3, untagged="keep")
    with pytest.raises(ValueError, match="untagged_response must be one of"):
        RolloutLabelConfig(untagged_response="keep")

    class NoRollouts:  # the errors come before any rollout is drawn
        def rollout(self, *args, **kwargs):
            raise AssertionError("rolled out with nothing to label")

    def annotate(texts, **kwargs):
        monkeypatch.setattr("stepwiser_core.base_policy.sample_solutions", lambda *args, **kw: [texts])
        return rl.annotate(NoRollouts(), None, [p], "toy_chunk", "chunks", verifier,
                           rules_from_config(0.8, 0.4, 4, "abs"), "rel_ratio", "toy-chunk-policy",
                           samples_per_prompt=2, per_prompt=2, m_draw=2, m_label=2, temperature=1.0,
                           max_new_tokens=8, seed=0, **kwargs)

    with pytest.raises(ValueError, match="none of the 2 samples of the 1 kept prompts has a step under 'chunks'"):
        annotate(["no tags", "none either"], keep_all=True)
    with pytest.raises(ValueError, match="no prompt passed the pre-filter"):
        annotate(["no tags", "none either"])  # both wrong: pass rate 0
