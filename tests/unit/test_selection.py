"""Judge-based data selection (notebook 06): candidates, the selection rule, the summaries against hand-worked
numbers, the resumable parts, and one real fine-tuning and evaluation on a tiny model."""
import json
import math

import pandas as pd
import pytest

from stepwiser_core import selection, selection_stage
from stepwiser_core.judges import average_chunk_scores
from stepwiser_core.stages import DataSelectionConfig
from stepwiser_core.verify import make_verifier
from stepwiser_core.world.problems import Problem

PROBLEM = Problem.from_dict({
    "id": "t-L2-0", "level": 2, "name": "Hana", "items": "pens", "start": 3,
    "ops": [["mul", 3], ["sub", 1], ["sub", 7], ["mul", 3]],
    "distractors": [["Ben", 2]],
    "text": "Hana has 3 pens.\nBen has 2 pens.\nFirst, 3 times as many pens.\nSecond, 1 are given away.\n"
            "Third, 7 are given away.\nFourth, 3 times as many pens.\nHow many pens does Hana have now?"})
CLEAN = ("<chunk>Hana has 3 pens.\nFirst, 3 times as many pens.\n3*3=9</chunk>\n<chunk>Second, 1 are given away.\n\n"
         "9-1=8</chunk>\n<chunk>Third, 7 are given away.\n\n8-7=1</chunk>\n<chunk>Fourth, 3 times as many pens.\n\n"
         "1*3=3</chunk>\n<chunk>The answer is \\boxed{3}.</chunk>")
FLAWED = CLEAN.replace("9-1=8", "9-1=7").replace("8-7=1", "7-7=1")  # a wrong step, yet the right answer
WRONG = CLEAN.replace("1*3=3", "1*3=4").replace("boxed{3}", "boxed{4}")


def test_candidates_tell_right_answers_from_right_steps():
    is_correct = make_verifier("exact").is_correct
    cands = selection.candidates([PROBLEM], [[WRONG, FLAWED, CLEAN]], is_correct)
    assert list(cands.columns) == selection.CANDIDATE_COLUMNS
    assert cands["answer_correct"].tolist() == [False, True, True]
    assert cands["no_wrong_step"].tolist() == [False, False, True]
    assert cands["chunks"][2][-1] == "The answer is \\boxed{3}." and len(cands["chunks"][2]) == 5


def _cands(rows):
    """rows: (problem_id, sample, answer_correct, no_wrong_step, text)."""
    return pd.DataFrame([{"problem_id": p, "level": 1, "sample": k, "text": t, "answer_correct": r,
                          "no_wrong_step": c, "chunks": t.split("|")} for p, k, r, c, t in rows])


CANDS = _cands([("a", 0, False, False, "w"), ("a", 1, True, False, "x|y"), ("a", 2, True, True, "z"),
                ("b", 0, True, True, "u"), ("b", 1, True, True, "u"),  # the same text twice: no choice
                ("c", 0, False, False, "v"), ("d", 0, True, False, "s"), ("d", 1, True, True, "t|t|t")])


def test_only_prompts_with_two_distinct_correct_responses_are_contested():
    got = selection.contested(CANDS)
    assert sorted(set(got["problem_id"])) == ["a", "d"]
    assert got["answer_correct"].all() and len(got) == 4


def test_selection_keeps_the_best_correct_response_the_earliest_among_equals():
    outcome = selection.select(CANDS)
    assert outcome[["problem_id", "sample"]].values.tolist() == [["a", 1], ["b", 0], ["d", 0]]  # c has none right
    assert outcome["score"].isna().all()
    scores = {("a", 1): 0.5, ("a", 2): 1.0, ("d", 0): 0.8, ("d", 1): 0.8}
    judged = selection.select(CANDS, scores)
    assert judged[["problem_id", "sample"]].values.tolist() == [["a", 2], ["b", 0], ["d", 0]]
    assert judged["score"].tolist() == [1.0, 0.0, 0.8]  # b was not judged: its only response scores 0
    exact = selection.select(CANDS, selection.exact_scores(CANDS))
    assert exact[["problem_id", "sample"]].values.tolist() == [["a", 2], ["b", 0], ["d", 1]]


def test_the_selection_summary_counts_flaws_and_changes_by_hand():
    selected = {"outcome": selection.select(CANDS), "exact": selection.select(CANDS, selection.exact_scores(CANDS))}
    table = selection.selection_summary(selected).set_index("selector")
    assert table.loc["outcome", "prompts"] == 3 and table.loc["outcome", "differs_from_outcome"] == 0
    assert table.loc["exact", "differs_from_outcome"] == 2  # a and d
    assert table.loc["outcome", "flawed"] == pytest.approx(2 / 3)  # a:1 and d:0 hold a wrong step
    assert table.loc["outcome", "flawed_se"] == pytest.approx(math.sqrt(2 / 3 * 1 / 3 / 3))
    assert table.loc["exact", "flawed"] == 0.0
    assert table.loc["outcome", "mean_chunks"] == pytest.approx((2 + 1 + 1) / 3)
    assert selection.flawed_on(selected, ["a", "d"]) == {"outcome": 1.0, "exact": 0.0}


def test_the_evaluation_summary_pairs_policies_over_problems_by_hand():
    rows = []
    for policy, greedy, sampled in (("outcome", [1, 0, 0], [[1, 0], [0, 0], [1, 1]]),
                                    ("judge", [1, 1, 0], [[1, 1], [0, 1], [1, 1]])):
        for i, (g, s) in enumerate(zip(greedy, sampled)):
            rows.append({"policy": policy, "finetune_seed": 0, "decoding": "greedy", "problem_id": f"p{i}",
                         "sample": 0, "answer_correct": bool(g), "no_wrong_step": bool(g)})
            rows += [{"policy": policy, "finetune_seed": 0, "decoding": "temperature 1", "problem_id": f"p{i}",
                      "sample": k, "answer_correct": bool(v), "no_wrong_step": None if policy == "judge" else bool(v)}
                     for k, v in enumerate(s)]
    table = selection.evaluation_summary(pd.DataFrame(rows)).set_index("policy")
    assert table.loc["judge", "greedy"] == pytest.approx(2 / 3)
    assert table.loc["judge", "greedy_vs_outcome"] == pytest.approx(1 / 3)
    assert table.loc["judge", "greedy_vs_outcome_se"] == pytest.approx(pd.Series([0, 1, 0]).std() / math.sqrt(3))
    assert table.loc["outcome", "sampled"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert table.loc["judge", "sampled_vs_outcome"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert table.loc["outcome", "greedy_se"] == pytest.approx(pd.Series([1, 0, 0]).std() / math.sqrt(3))
    assert math.isnan(table.loc["judge", "sampled_no_wrong_step"])  # no exact checker: not a fake 0
    assert table.loc["outcome", "sampled_no_wrong_step"] == pytest.approx(0.5)
    paper = selection.with_paper_table8(table.reset_index()).set_index("policy")
    assert paper.loc["outcome", "paper_avg"] == 60.9 and math.isnan(paper.loc["judge", "paper_avg"])


class ScriptedJudge:
    """Positive unless the chunk says "bad"; "?" gives an unparseable verdict. Records what it was asked."""

    def __init__(self):
        self.asked = []

    def judge(self, items):
        self.asked += list(items)
        return [[None] if q.chunk == "?" else [q.chunk != "bad"] for q in items]


def test_average_chunk_scores_judge_each_chunk_after_its_own_history():
    judge = ScriptedJudge()
    scores = average_chunk_scores(["P", "Q", "R"], [["ok", "bad", "ok", "?"], [], ["ok"]], judge)
    assert scores == [0.5, 0.0, 1.0]  # an unparseable verdict is not Positive; no chunks scores 0
    assert [(q.problem, q.history, q.chunk) for q in judge.asked[:2]] == [("P", (), "ok"), ("P", ("ok",), "bad")]
    assert len(judge.asked) == 5
    with pytest.raises(ValueError, match="chunk lists"):
        average_chunk_scores(["P"], [], judge)


def test_sft_steps_cover_the_epochs():
    assert selection_stage.sft_steps(540, 2.0, 32) == 34
    assert selection_stage.sft_steps(1, 0.5, 32) == 1


def test_parts_are_made_once_and_cleared_when_the_config_changes(tmp_path):
    cfg = DataSelectionConfig()
    calls = []

    def make():
        calls.append(1)
        return pd.DataFrame({"problem_id": ["007"], "score": [0.5]})

    parts = selection_stage.Parts(tmp_path, cfg)
    first = parts.frame("scores_x", make)
    again = selection_stage.Parts(tmp_path, DataSelectionConfig(finetune_seeds=[0, 1, 2], judges=["x"]))
    assert again.frame("scores_x", make).equals(first) and len(calls) == 1  # more seeds or judges: parts reused
    assert first["problem_id"].tolist() == ["007"]  # read back as text, not the number 7
    changed = selection_stage.Parts(tmp_path, DataSelectionConfig(learning_rate=1e-4))
    changed.frame("scores_x", make)
    assert len(calls) == 2
    assert json.loads((tmp_path / "parts" / "config.json").read_text())["learning_rate"] == 1e-4


def test_the_config_rejects_what_cannot_run():
    with pytest.raises(ValueError, match="epochs"):
        DataSelectionConfig(finetune_seeds=[])
    with pytest.raises(ValueError, match="problem_source"):
        DataSelectionConfig(problem_source="gsm8k")
    with pytest.raises(ValueError, match="samples_per_prompt"):
        DataSelectionConfig(samples_per_prompt=0)
    with pytest.raises(ValueError, match="needs numina_path"):
        DataSelectionConfig(numina_heldout=1000)
    with pytest.raises(ValueError, match="one evaluation set per run"):
        DataSelectionConfig(numina_path="nm", numina_heldout=1000, math500_path="m500")


def test_fine_tune_all_trains_and_evaluates_every_selection_on_a_tiny_model(tmp_path, tiny_model, toy_tokenizer):
    from stepwiser_core.models import save_model

    save_model(tiny_model, toy_tokenizer, tmp_path / "policy")
    cfg = DataSelectionConfig(batch_size=2, epochs=1.0, finetune_seeds=[0], eval_samples=2, max_new_tokens=8,
                              gen_batch_size=8)
    is_correct = make_verifier("exact").is_correct
    cands = selection.candidates([PROBLEM], [[FLAWED, CLEAN]], is_correct)
    selected = {"outcome": selection.select(cands), "exact": selection.select(cands, selection.exact_scores(cands)),
                "nothing": selection.select(cands.iloc[:0])}
    parts = selection_stage.Parts(tmp_path / "run", cfg)
    rows = selection_stage.fine_tune_all(cfg, tmp_path / "policy", selected, {PROBLEM.id: PROBLEM}, [PROBLEM],
                                         is_correct, parts, tmp_path / "run" / "finetuned")
    assert list(dict.fromkeys(rows["policy"])) == ["policy", "outcome", "exact"]  # an empty selection is skipped
    assert (rows.groupby(["policy", "decoding"]).size() == pd.Series(
        {("exact", "greedy"): 1, ("exact", "temperature 1"): 2, ("outcome", "greedy"): 1,
         ("outcome", "temperature 1"): 2, ("policy", "greedy"): 1, ("policy", "temperature 1"): 2})).all()
    assert not (tmp_path / "run" / "finetuned" / "outcome_seed0").exists()  # deleted after its evaluation
    assert (tmp_path / "run" / "parts" / "eval_exact_seed0.csv").exists()
    # a rerun reads every part back instead of training again
    again = selection_stage.fine_tune_all(cfg, tmp_path / "missing", selected, {PROBLEM.id: PROBLEM}, [PROBLEM],
                                          is_correct, parts, tmp_path / "run" / "finetuned")
    pd.testing.assert_frame_equal(again, rows, check_dtype=False)


def test_candidates_are_kept_and_scores_of_other_candidates_are_refused(tmp_path):
    is_correct = make_verifier("exact").is_correct
    parts = selection_stage.Parts(tmp_path, DataSelectionConfig())
    made = parts.candidates(lambda: selection.candidates([PROBLEM], [[WRONG, FLAWED, CLEAN, CLEAN + " "]], is_correct))
    again = parts.candidates(lambda: pytest.fail("drawn again"))
    pd.testing.assert_frame_equal(again, made, check_dtype=False)
    assert again["chunks"][2] == made["chunks"][2] and again["problem_id"][0] == PROBLEM.id
    # a scores part left by other candidates (here: another response scored) is a clear error, not a silent mix
    pd.DataFrame({"problem_id": [PROBLEM.id], "sample": [0], "score": [1.0]}).to_csv(
        parts.dir / "scores_j.csv", index=False)
    with pytest.raises(ValueError, match="other responses"):
        selection_stage.judge_scores(DataSelectionConfig(), {"j": {}}, ["j"], made, {PROBLEM.id: PROBLEM.text}, parts)


def test_the_seed_summary_pairs_each_fine_tuning_with_the_reference_of_its_seed():
    rows = []
    for policy, seed, accuracy in (("policy", -1, [1, 0]), ("outcome", 0, [1, 0]), ("outcome", 1, [0, 0]),
                                   ("judge", 0, [1, 1]), ("judge", 1, [0, 0])):
        rows += [{"policy": policy, "finetune_seed": seed, "decoding": "temperature 1", "problem_id": f"p{i}",
                  "answer_correct": bool(v)} for i, v in enumerate(accuracy)]
    rows.append({"policy": "judge", "finetune_seed": 0, "decoding": "greedy", "problem_id": "p0",
                 "answer_correct": False})  # another decoding: not counted
    table = selection.seed_summary(pd.DataFrame(rows)).set_index("policy")
    assert list(table.index) == ["outcome", "judge"]  # the untrained policy has no seed
    assert table.loc["judge", "seed_0"] == 1.0 and table.loc["judge", "seed_1"] == 0.0
    assert table.loc["judge", "vs_outcome_min"] == 0.0 and table.loc["judge", "vs_outcome_max"] == 0.5
    assert table.loc["judge", "seeds_above_outcome"] == 1
    assert table.loc["outcome", "sd_over_seeds"] == pytest.approx(pd.Series([0.5, 0.0]).std())


def test_the_draw_summary_pairs_selectors_within_each_draw_and_pools_over_draws(tmp_path):
    def draw(outcome, judge, extra_seed=None):
        rows = [{"policy": "policy", "finetune_seed": -1, "decoding": "temperature 1", "problem_id": f"p{i}",
                 "answer_correct": bool(v), "no_wrong_step": True} for i, v in enumerate([0, 0])]
        for policy, accuracy in (("outcome", outcome), ("judge", judge)):
            rows += [{"policy": policy, "finetune_seed": 0, "decoding": "temperature 1", "problem_id": f"p{i}",
                      "answer_correct": bool(v), "no_wrong_step": True} for i, v in enumerate(accuracy)]
        if extra_seed is not None:  # another fine-tune seed of the same draw: left out
            rows.append({"policy": "judge", "finetune_seed": extra_seed, "decoding": "temperature 1",
                         "problem_id": "p0", "answer_correct": False, "no_wrong_step": True})
        return pd.DataFrame(rows)

    draws = {0: draw([1, 0], [1, 1], extra_seed=1), 5: draw([0, 0], [0, 0])}
    rows = selection.draw_rows(draws)
    assert sorted(rows["finetune_seed"].unique()) == [-1, 0, 5]
    assert (rows["policy"] == "policy").sum() == 2  # the untrained policy once, from the first draw
    table = selection.draw_summary(draws).set_index("policy")
    assert list(table.index) == ["outcome", "judge"]
    assert table.loc["judge", "draw_0"] == 1.0 and table.loc["judge", "draw_5"] == 0.0
    assert table.loc["judge", "vs_outcome_min"] == 0.0 and table.loc["judge", "vs_outcome_max"] == 0.5
    assert table.loc["judge", "draws_above_outcome"] == 1
    # pooled: per problem, the mean over draws; p0 changes by 0, p1 by (1 + 0) / 2 = 0.5, so 0.25 on average
    assert table.loc["judge", "pooled_vs_outcome"] == pytest.approx(0.25)
    assert table.loc["judge", "pooled_vs_outcome_se"] == pytest.approx(pd.Series([0.0, 0.5]).std() / 2 ** 0.5)
    # over draws: the draws' changes are 0.5 and 0, their mean the pooled change
    assert table.loc["judge", "pooled_vs_outcome_se_over_draws"] == pytest.approx(pd.Series([0.5, 0.0]).std() / 2 ** 0.5)
    assert table.loc["outcome", "pooled_vs_outcome_se_over_draws"] == 0.0
    changes = selection.draw_changes(table.reset_index()).set_index("policy")
    assert list(changes.index) == ["judge"]  # the reference's own row is left out
    assert changes.loc["judge", "draw_0"] == 0.5 and changes.loc["judge", "draw_5"] == 0.0
    assert changes.loc["judge", "pooled_vs_outcome"] == pytest.approx(0.25)
    one = selection.draw_summary({0: draws[0]}).set_index("policy")
    assert one["pooled_vs_outcome_se_over_draws"].isna().all()
    with pytest.raises(ValueError, match="fine-tune seed 3"):
        selection.draw_rows(draws, finetune_seed=3)

    from stepwiser_core import plots

    for frame, name in ((table.reset_index(), "draws.png"), (table.reset_index().iloc[:1], "reference_only.png")):
        assert plots.selection_draws(frame, tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_paper_tier_candidates_have_no_step_truth_and_select_all_the_same():
    from stepwiser_core.numina import MathProblem

    problem = MathProblem(id="numina-1", text="What is $1+1$?", answer="2")
    cands = selection.candidates([problem], [["<chunk>So \\boxed{3}.</chunk>", "<chunk>1+1=2, \\boxed{2}.</chunk>"]],
                                 make_verifier("math_verify").is_correct)
    assert cands["answer_correct"].tolist() == [False, True]
    assert cands["no_wrong_step"].isna().all()  # no exact checker: unknown, not "clean"
    picked = selection.select(cands)
    assert picked["sample"].tolist() == [1]
    table = selection.selection_summary({"outcome": picked})
    assert "flawed" not in table  # no flaw count without a checker


def test_parts_remember_how_long_each_took_to_make(tmp_path):
    parts = selection_stage.Parts(tmp_path, DataSelectionConfig())
    assert parts.seconds("eval_a") is None and parts.seconds_total("eval_") is None
    parts.frame("eval_a", lambda: pd.DataFrame({"x": [1]}))
    parts.frame("eval_b", lambda: pd.DataFrame({"x": [2]}))
    parts.frame("scores_j", lambda: pd.DataFrame({"x": [3]}))
    again = selection_stage.Parts(tmp_path, DataSelectionConfig())  # a resumed run reads them back
    assert again.seconds("eval_a") >= 0 and again.seconds("nothing") is None
    assert again.seconds_total("eval_") == pytest.approx(again.seconds("eval_a") + again.seconds("eval_b"), abs=0.11)


def test_the_numina_held_out_set_is_an_evaluation_set_of_its_own_parts(tmp_path):
    # NuminaMath-CoT rows in the real schema: products, some of them in the held-out part
    from stepwiser_core.numina import in_heldout

    products = [(k, f"Compute ${k} \\times 7$.") for k in range(2, 3000)]
    held = [(k, t) for k, t in products if in_heldout(t)][:4]
    rows = [{"source": "gsm8k", "problem": t, "solution": f"We get $\\boxed{{{7 * k}}}$.",
             "messages": []} for k, t in held + [x for x in products if not in_heldout(x[1])][:10]]
    (tmp_path / "nm").mkdir()
    (tmp_path / "nm" / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    paper = dict(problem_source="numina", numina_path=str(tmp_path / "nm"), verifier="math_verify",
                 exact_selector=False)
    cfg = DataSelectionConfig(**paper, numina_heldout=3)
    problems = selection_stage.evaluation_set(cfg, tmp_path)
    assert len(problems) == 3 and {p.text for p in problems} <= {t for _, t in held}
    assert selection_stage.evaluation_set_name(cfg) == "numina_heldout"
    # the candidates come from the rest: no held-out problem is ever a prompt to select from
    prompts = selection_stage.selection_prompts(DataSelectionConfig(**paper, n_prompts=100))
    assert len(prompts) == 10 and not {p.text for p in prompts} & {t for _, t in held}
    # each set's evaluations are parts of their own, and a run on another set keeps them, its candidates and scores
    math500 = DataSelectionConfig(**paper, math500_path="m500")
    toy = DataSelectionConfig()
    assert selection_stage.evaluation_part(cfg, "outcome", 0) == "eval_numina_heldout_outcome_seed0"
    assert selection_stage.evaluation_part(math500, "policy") == "eval_math500_policy"
    assert selection_stage.evaluation_part(toy, "outcome", 2) == "eval_outcome_seed2"
    parts = selection_stage.Parts(tmp_path / "run", math500)
    for name in ("eval_math500_policy", "eval_math500_outcome_seed0", "scores_j"):
        parts.frame(name, lambda: pd.DataFrame({"x": [1]}))
    again = selection_stage.Parts(tmp_path / "run", cfg)  # the other set: nothing is cleared
    assert again.seconds("scores_j") is not None and again.seconds("eval_math500_policy") is not None
    assert again.evaluation_seconds(cfg) is None  # none of this set's yet
    assert again.evaluation_seconds(math500) == again.seconds_total("eval_math500_")
    for name in ("eval_numina_heldout_policy", "eval_outcome_seed0"):
        again.frame(name, lambda: pd.DataFrame({"x": [1]}))
    assert again.evaluation_seconds(cfg) == again.seconds("eval_numina_heldout_policy")
    # the toy set's prefix, eval_, is the start of the others': their parts are not counted as its
    assert again.evaluation_seconds(toy) == again.seconds("eval_outcome_seed0")
