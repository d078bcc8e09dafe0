"""The report (notebook 99): assembled from result files only, each stage from the first source that has it."""
import json
import math

from stepwiser_core import report


def _stage(folder, metrics, commit="abcdef0123", dirty=False, tables=(), figures=()):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "provenance.json").write_text(json.dumps({"git": {"commit": commit, "dirty": dirty}, "duration_s": 61.4}))
    for name in tables:
        (folder / f"{name}.md").write_text(f"| a |\n|---|\n| {name} |\n")
    for name in figures:
        (folder / f"{name}.png").write_bytes(b"png")


def test_each_stage_comes_from_the_first_source_that_has_it(tmp_path):
    main, other = tmp_path / "toy", tmp_path / "toy" / "second_run"
    _stage(main / "04_processbench", {"average_f1": {"zero_shot": 79.17, "stepwiser_abs_q": 60.9}, "best_judge": "zero_shot"},
           dirty=True, tables=("table5",), figures=("f1_by_subset",))
    _stage(other / "04_processbench", {"average_f1": {"zero_shot": 1.0}})
    _stage(other / "05_inference_search", {"accuracy": {"none": 0.659}}, commit="fa21621aa", tables=("table7",))
    text = report.build_report([main, other], main)
    assert "| 04_processbench | `04_processbench` | abcdef0-dirty | 61 |" in text
    assert "| 05_inference_search | `second_run/05_inference_search` | fa21621 | 61 |" in text
    assert "| 00_policy | not run | – | – |" in text
    assert "average F1: zero_shot 79.2, stepwiser_abs_q 60.9" in text and "zero_shot 1.0" not in text
    assert "| table5 |" in text and "| table7 |" in text  # tables inlined
    assert "![04_processbench f1_by_subset](04_processbench/f1_by_subset.png)" in text  # links from the report's folder
    assert "best-of-N accuracy: –" in text  # a metric the stage did not write is a dash, not an error
    assert "Not run: no `06_data_selection/metrics.json` in" in text


def test_fmt_and_missing_provenance(tmp_path):
    assert report.fmt(0.12345) == "0.123" and report.fmt(None) == "–" and report.fmt(math.nan) == "–"
    assert report.fmt(3) == "3" and report.fmt(61.44, 0) == "61"
    (tmp_path / "s").mkdir()
    assert report._commit(tmp_path / "s") == "unknown"
