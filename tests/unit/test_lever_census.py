"""The lever-table census: classification at the margin, one count per run, the references, the table layouts, and
the errors that stop a wrong manifest from being counted quietly. Hand-made frames only, no result files."""
import pandas as pd
import pytest

from stepwiser_core.lever_census import (classify, diff_list, format_diff, judge_scores, load_scores, parse_range,
                                         readme_row, summarise, versus_reference)


def _scores(*rows):
    return pd.DataFrame(rows, columns=["judge", "average_f1", "table"])


@pytest.mark.parametrize("diff, expected", [(3.0, "level"), (3.1, "above"), (-3.0, "level"), (-3.1, "below"),
                                            (0.0, "level"), (3.2, "above"), (-16.0, "below")])
def test_classify_at_the_margin(diff, expected):
    assert classify(diff) == expected


def test_classify_rounds_away_float_noise_as_the_one_decimal_tables_do():
    assert 4.4 - 1.4 > 3.0 and 63.4 - 66.4 < -3.0  # what a plain comparison would call above / below
    assert classify(4.4 - 1.4) == "level" and classify(63.4 - 66.4) == "level"
    assert classify(82.4 - 79.2) == "above" and classify(76.2 - 79.2) == "level"
    assert classify(79.4 - 76.3) == "above" and classify(72.4 - 79.2) == "below"
    assert classify(2.5, margin=2.0) == "above"


def test_format_diff_writes_the_readme_way():
    assert [format_diff(d) for d in (3.2, -3.0, 0.0, -0.04, 82.4 - 79.2)] == ["+3.2", "\u22123.0", "+0.0", "+0.0",
                                                                              "+3.2"]


def test_versus_reference_named_reference_diff_and_class():
    scores = _scores(("zero_shot", 79.2, "t"), ("a_seed0", 82.4, "t"), ("a_seed1", 76.2, "t"),
                     ("a_seed2", 76.1, "t"), ("other", 90.0, "t"))
    runs = versus_reference(scores, r"a_seed\d", "zero_shot")
    assert list(runs["judge"]) == ["a_seed0", "a_seed1", "a_seed2"]  # `other` and the reference left out
    assert list(runs["diff"]) == [3.2, -3.0, -3.1]
    assert list(runs["class"]) == ["above", "level", "below"]
    assert set(runs["reference_f1"]) == {79.2}


def test_versus_reference_fixed_float_reference_and_one_decimal_scores():
    scores = pd.DataFrame({"judge": ["x_seed0", "x_seed1"], "average_f1": [74.4567945334885, 75.64]})
    runs = versus_reference(scores, r"x_seed\d", 78.84789745934111)
    assert list(runs["average_f1"]) == [74.5, 75.6] and set(runs["reference_f1"]) == {78.8}
    assert list(runs["diff"]) == [-4.3, -3.2] and list(runs["class"]) == ["below", "below"]


def test_versus_reference_matches_the_whole_name():
    scores = _scores(("zero_shot", 50.0, "t"), ("mix_abs_q_s0", 51.0, "t"), ("mix_abs_q_s0_unbalanced", 0.0, "t"))
    assert list(versus_reference(scores, r"mix_abs_q_s\d", "zero_shot")["judge"]) == ["mix_abs_q_s0"]


def test_a_judge_scored_in_two_tables_counts_once():
    scores = _scores(("zero_shot", 23.0, "t1"), ("j_s0", 27.5, "t1"), ("zero_shot", 23.0, "t2"),
                     ("j_s0", 27.5, "t2"), ("j_s1", 23.6, "t2"))
    runs = versus_reference(scores, r"j_s\d", "zero_shot")
    assert list(runs["judge"]) == ["j_s0", "j_s1"]
    assert runs.set_index("judge").loc["j_s0", "tables"] == "t1, t2"
    s = summarise(runs)
    assert (s["runs"], s["above"], s["level"], s["below"]) == (2, 1, 1, 0)


def test_a_judge_scored_two_ways_in_one_row_is_an_error():
    scores = _scores(("zero_shot", 79.2, "t1"), ("j", 81.2, "t1"), ("j", 80.8, "t2"))
    with pytest.raises(ValueError, match=r"'j' is scored differently.*t1: 81.2; t2: 80.8"):
        versus_reference(scores, "j", "zero_shot")


def test_a_pattern_that_matches_nothing_or_the_reference_is_an_error():
    scores = _scores(("zero_shot", 79.2, "t1"), ("j_seed0", 70.0, "t1"))
    with pytest.raises(ValueError, match=r"no judge matches 'k_seed.*' in the tables \['t1'\]"):
        versus_reference(scores, r"k_seed\d", "zero_shot")
    with pytest.raises(ValueError, match="matches the reference judge 'zero_shot' itself"):
        versus_reference(scores, r".*", "zero_shot")


def test_a_missing_or_ambiguous_reference_is_an_error():
    scores = _scores(("zero_shot", 79.2, "t1"), ("j_seed0", 70.0, "t1"), ("zero_shot", 79.9, "t2"))
    with pytest.raises(ValueError, match="'init' is in none of the tables"):
        versus_reference(scores, r"j_seed\d", "init")
    with pytest.raises(ValueError, match="2 different scores"):
        versus_reference(scores, r"j_seed\d", "zero_shot")


def test_summarise_counts_the_range_and_lists_level_diffs_largest_first():
    scores = _scores(("zs", 79.2, "t"), ("a", 78.3, "t"), ("b", 80.4, "t"), ("c", 66.3, "t"), ("d", 82.4, "t"),
                     ("e", 76.2, "t"))
    s = summarise(versus_reference(scores, "[a-e]", "zs"))
    assert (s["runs"], s["min_f1"], s["max_f1"]) == (5, 66.3, 82.4)
    assert (s["above"], s["level"], s["below"]) == (1, 3, 1)
    assert s["level_diffs"] == "+1.2, \u22120.9, \u22123.0"
    empty = summarise(pd.DataFrame(columns=["average_f1", "diff", "class"]))
    assert (empty["runs"], empty["above"], empty["level_diffs"]) == (0, 0, "")


def test_judge_scores_reads_every_layout_of_the_results():
    audit = pd.DataFrame({"judge": ["zero_shot", "g1"], "average_f1": [79.2, 82.4], "diff_vs_zero_shot": [None, 3.2],
                          "by_3_point_margin": [None, "above"]})
    out = judge_scores(audit)
    assert list(out["judge"]) == ["zero_shot", "g1"] and out.loc[1, "table_verdict"] == "above"
    stage = pd.DataFrame({"judge": ["zero_shot", "zero_shot", "s"], "subset": ["gsm8k", "average", "average"],
                          "f1": [80.0, 78.85, 74.46]})
    assert judge_scores(stage).to_dict("list") == {"judge": ["zero_shot", "s"], "average_f1": [78.85, 74.46]}
    seeds = pd.DataFrame({"variant": ["stepwiser"], "label_rule": ["abs_q"], "seed": [2], "f1": [74.1]})
    assert list(judge_scores(seeds)["judge"]) == ["stepwiser_abs_q_seed2"]
    items = pd.DataFrame({"variant": ["stepwiser"], "n_prompts": [960], "max_steps": [300],
                          "label_rule": ["rel_ratio"], "f1": [37.7]})  # no seed column: seed 0
    assert list(judge_scores(items)["judge"]) == ["stepwiser_rel_ratio_n960_steps300_seed0"]
    warmups = pd.DataFrame({"seed": [1, 1], "judge": ["zero_shot", "abs_q"], "f1": [76.6, 70.9]})
    assert list(judge_scores(warmups)["judge"]) == ["zero_shot_warmup1", "abs_q_warmup1"]
    with pytest.raises(ValueError, match="score table odd: no judge / average_f1 columns"):
        judge_scores(pd.DataFrame({"seed": [0], "a": [1.0]}), "odd")


def test_load_scores_stacks_tables_and_names_every_missing_one(tmp_path):
    (tmp_path / "04_processbench").mkdir()
    (tmp_path / "old" / "04_processbench").mkdir(parents=True)
    pd.DataFrame({"judge": ["zero_shot", "a"], "average_f1": [79.2, 78.0]}).to_csv(
        tmp_path / "04_processbench" / "t1.csv", index=False)
    pd.DataFrame({"judge": ["zero_shot", "b"], "subset": ["average", "average"], "f1": [79.2, 75.0]}).to_csv(
        tmp_path / "old" / "04_processbench" / "table.csv", index=False)
    scores = load_scores(tmp_path, ["t1", "old/04_processbench/table"])
    assert list(scores["judge"]) == ["zero_shot", "a", "zero_shot", "b"]
    assert list(scores["table"]) == ["t1", "t1", "old/04_processbench/table", "old/04_processbench/table"]
    assert list(versus_reference(scores, "[ab]", "zero_shot")["class"]) == ["level", "below"]
    with pytest.raises(ValueError, match="no score table 04_processbench/t2, 04_processbench/t3"):
        load_scores(tmp_path, ["t1", "t2", "t3"])


def test_readme_helpers():
    text = ("| what | runs | range |\n|---|---|---|\n| a row here | 9 | 52.3\u201374.5 |\n"
            "| **total** | **323** | 74.2 |\n")
    assert readme_row(text, "a row") == ["a row here", "9", "52.3\u201374.5"]
    assert readme_row(text, "**total**")[1] == "**323**" and readme_row(text, "missing") is None
    with pytest.raises(ValueError, match="2 Markdown table rows"):
        readme_row(text + "| a row again | 1 | 1.0 |\n", "a row")
    assert parse_range("52.3\u201374.5") == (52.3, 74.5) and parse_range("74.2") == (74.2, 74.2)
    assert diff_list("\u22120.0, +2.1, -3.0, +0.8") == ["+2.1", "+0.8", "+0.0", "\u22123.0"]
