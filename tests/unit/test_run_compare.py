"""run_compare: does a re-run reproduce a results folder? Hand-built trees with known differences."""
import json
import math

import pandas as pd
import pytest

from stepwiser_core.run_compare import (compare_mappings, compare_results, compare_tables, flatten, main, summary,
                                        values_equal)


def test_flatten_names_every_leaf_by_its_path_and_keeps_empty_containers():
    assert flatten({"a": {"b": [1, {"c": 2}]}, "d": [], "e": {}, "f": None}) == {
        "a.b[0]": 1, "a.b[1].c": 2, "d": [], "e": {}, "f": None}


def test_values_equal_compares_numbers_within_tolerance_and_nothing_else_loosely():
    assert values_equal(1, 1.0) and values_equal(math.nan, math.nan) and not values_equal(math.nan, 0.0)
    assert not values_equal(0.3, 0.1 + 0.2) and values_equal(0.3, 0.1 + 0.2, rel_tol=1e-12)
    assert values_equal(100.0, 100.4, abs_tol=0.5) and not values_equal(100.0, 100.6, abs_tol=0.5)
    assert not values_equal(True, 1) and not values_equal("1", 1) and values_equal([1, 2], [1, 2])


def test_mappings_report_moved_values_and_keys_of_one_side_without_failing_on_those():
    ref = {"acc": {"greedy": 0.5, "t1": 0.25}, "train_runtime": 800.0, "results_root": "/a", "n": 3,
           "seconds": {"judge_a": 161.2}, "judge_seconds": {"judge_a": 20.7}}
    new = {"acc": {"greedy": 0.5, "t1": 0.375}, "train_runtime": 912.5, "results_root": "/b", "n": 3, "added": 1,
           "seconds": {"judge_a": 177.4}, "judge_seconds": {"judge_a": 25.1}}
    status, shared, differing, detail = compare_mappings(ref, new)
    # the runtimes (05's and 06's per-judge seconds among them) and the folder are not results: 3 shared keys, one
    # of them moved
    assert (status, shared, differing) == ("differs", 3, 1)
    assert "acc.t1: 0.25 -> 0.375" in detail and "only in rerun: added" in detail
    new["acc"]["t1"] = 0.25
    assert compare_mappings(ref, new)[:3] == ("same values", 3, 0)


def test_tables_are_compared_cell_by_cell_not_by_how_their_numbers_were_printed():
    ref = pd.DataFrame({"judge": ["a", "b"], "f1": [71.25, 60.0], "train_runtime": [1.0, 2.0]})
    reprinted = pd.DataFrame({"judge": ["a", "b"], "f1": [71.250, 60.00], "train_runtime": [9.0, 9.0],
                              "new_column": [1, 2]})
    status, cells, differing, detail = compare_tables(ref, reprinted)
    assert (status, cells, differing) == ("same values", 4, 0) and "columns only in rerun: new_column" in detail
    moved = reprinted.assign(f1=[71.25, 59.5], judge=["a", "c"])
    status, cells, differing, detail = compare_tables(ref, moved)
    assert (status, differing) == ("differs", 2)
    assert "f1: 1 cells, max |diff| 0.5" in detail and "judge: 1 cells" in detail
    assert compare_tables(ref, moved.assign(judge=["a", "b"]), abs_tol=0.5)[0] == "same values"
    assert compare_tables(ref, ref.iloc[:1])[:2] == ("differs", 0)


def test_tables_with_missing_cells_agree_where_both_miss_and_differ_where_one_does():
    ref = pd.DataFrame({"x": [1.0, math.nan], "s": ["a", None]})
    assert compare_tables(ref, ref.copy())[0] == "same values"
    assert compare_tables(ref, ref.assign(x=[1.0, 2.0]))[2] == 1
    assert compare_tables(ref, ref.assign(s=["a", "b"]))[2] == 1


def _tree(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def _two_runs(tmp_path, moved=0.25):
    common = {"00_policy/figure.png": "PNG", "00_policy/config.yaml": "seed: 0\nresults_root: /ref\n",
              "01_labels/table.csv": "rule,agreement\nabs_q,0.947\nrel_ratio,0.920\n"}
    ref = _tree(tmp_path / "ref", {**common, "00_policy/metrics.json": {"acc": 0.25, "duration_s": 10},
                                   "00_policy/provenance.json": {"git_commit": "aaa"},
                                   "01_labels/tool_output.md": "| x |\n", "01_labels/metrics.json": {"n": 5}})
    new = _tree(tmp_path / "new", {**common, "00_policy/metrics.json": {"acc": moved, "duration_s": 12},
                                   "00_policy/provenance.json": {"git_commit": "bbb"},
                                   "00_policy/config.yaml": "seed: 0\nresults_root: /new\nadded_field: 1\n",
                                   "01_labels/table.csv": "rule,agreement\nabs_q,0.9470\nrel_ratio,0.92\n",
                                   "01_labels/metrics.json": {"n": 5}, "02_judge/metrics.json": {"f1": 1}})
    return ref, new


def test_a_rerun_that_reproduces_is_told_apart_from_one_whose_number_moved(tmp_path):
    ref, new = _two_runs(tmp_path)
    table = compare_results(ref, new)
    # only the stages both trees hold; the provenance is skipped; a tool's output kept in the reference is listed
    assert dict(zip(table["stage"] + "/" + table["file"], table["status"])) == {
        "00_policy/config.yaml": "same values", "00_policy/figure.png": "identical",
        "00_policy/metrics.json": "same values", "00_policy/provenance.json": "skipped",
        "01_labels/metrics.json": "identical", "01_labels/table.csv": "same values",
        "01_labels/tool_output.md": "only in reference"}
    counts = summary(compare_results(ref, new)).set_index("stage")
    assert counts.loc["00_policy", "identical"] == 1 and counts.loc["01_labels", "only in reference"] == 1
    ref2, new2 = _two_runs(tmp_path / "moved", moved=0.3)
    row = compare_results(ref2, new2, stages=["00_policy"]).set_index("file").loc["metrics.json"]
    assert (row["status"], row["differing"], row["detail"]) == ("differs", 1, "acc: 0.25 -> 0.3")


def test_cli_exits_0_when_reproduced_1_when_a_file_differs_and_2_on_bad_input(tmp_path, capsys):
    ref, new = _two_runs(tmp_path)
    assert main([str(ref), str(new), "--out", str(tmp_path / "cmp.csv")]) == 0
    assert "reproduced: every file both folders hold agrees (7 files)" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "cmp.csv")["status"].tolist().count("only in reference") == 1
    (new / "00_policy" / "figure.png").write_text("PNG, redrawn")
    assert main([str(ref), str(new)]) == 1
    assert "1 of 7 files differ" in capsys.readouterr().out
    assert main([str(ref), str(new), "--ignore", "*.png"]) == 0
    assert main([str(ref), str(tmp_path / "absent")]) == 2
    assert "not a results folder" in capsys.readouterr().err
    assert main([str(ref), str(new), "--stages", "09_nothing"]) == 2
    (new / "01_labels" / "metrics.json").write_text("{not json")
    assert main([str(ref), str(new)]) == 2
    assert "malformed JSON in" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["a,b\n1,2\n", "a,b\n1,3\n"])
def test_a_csv_compared_with_itself_is_identical_whatever_it_holds(tmp_path, text):
    ref = _tree(tmp_path / "r", {"s/t.csv": text})
    new = _tree(tmp_path / "n", {"s/t.csv": text})
    assert compare_results(ref, new)["status"].tolist() == ["identical"]
