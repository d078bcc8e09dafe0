"""Unit tests for stepwiser_core.processbench: loading, predictions and the official metric (ecosystem.md §1).

Expected metric values are computed by hand in the comments (percent, as in the paper's tables).
"""

import doctest
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stepwiser_core import processbench
from stepwiser_core.processbench import (
    SUBSETS,
    PBRecord,
    first_negative_index,
    load_processbench,
    main,
    read_predictions,
    save_processbench,
    score,
    score_subset,
    validate_record,
    write_predictions,
)

REPO = Path(__file__).resolve().parents[2]


def rec(rid: str, label: int, n_steps: int = 4) -> PBRecord:
    return PBRecord(rid, "Qwen2-7B-Instruct", f"problem {rid}", tuple(f"step {i}" for i in range(n_steps)), label == -1, label)


def raw(rid: str, label: int, n_steps: int = 3, generator: str = "Qwen2-7B-Instruct") -> dict:
    """A record in the real ProcessBench JSON schema."""
    return {
        "id": rid,
        "generator": generator,
        "problem": "Natalia sold clips to 48 of her friends in April, and then she sold half as many in May. ...",
        "steps": [f"To find ... step {i}." for i in range(n_steps)],
        "final_answer_correct": label == -1,
        "label": label,
    }


# ----------------------------------------------------------------------------------------------------------------
# The metric, by hand
# ----------------------------------------------------------------------------------------------------------------

# Subset "gsm8k": 4 erroneous + 3 correct records.
#   erroneous labels      0, 1, 2, 1   predictions 0, 2, 2, −1  → matches 1,0,1,0  → acc_error   = 2/4 = 50 %
#   correct (label −1)                 predictions −1, −1, 0    → matches 1,1,0    → acc_correct = 2/3 ≈ 66.667 %
#   f1 = 2·(1/2)·(2/3) / (1/2 + 2/3) = (2/3) / (7/6) = 4/7 ≈ 57.142857 %
GSM = [rec("gsm8k-0", 0), rec("gsm8k-1", 1), rec("gsm8k-2", 2), rec("gsm8k-3", 1),
       rec("gsm8k-4", -1), rec("gsm8k-5", -1), rec("gsm8k-6", -1)]  # fmt: skip
GSM_PRED = {"gsm8k-0": 0, "gsm8k-1": 2, "gsm8k-2": 2, "gsm8k-3": -1, "gsm8k-4": -1, "gsm8k-5": -1, "gsm8k-6": 0}
# Subset "math": 2 erroneous + 2 correct, all predicted right → 100 / 100 / 100.
MATH = [rec("math-0", 3), rec("math-1", 0), rec("math-2", -1), rec("math-3", -1)]
MATH_PRED = {"math-0": 3, "math-1": 0, "math-2": -1, "math-3": -1}


def test_score_subset_by_hand():
    s = score_subset(GSM, GSM_PRED)
    assert s["acc_error"] == 50.0
    assert s["acc_correct"] == pytest.approx(200 / 3)
    assert s["f1"] == pytest.approx(400 / 7)
    assert (s["n_error"], s["n_correct"]) == (4, 3)


def test_average_f1_is_the_unweighted_mean_of_subset_f1s():
    # (4/7·100 + 100) / 2 = (57.142857 + 100) / 2 ≈ 78.571429; weighting by size (7 vs 4 records) would give
    # (7·57.142857 + 4·100) / 11 ≈ 72.727, so this also pins "unweighted".
    out = score({"gsm8k": GSM, "math": MATH}, {**GSM_PRED, **MATH_PRED})
    assert out["average_f1"] == pytest.approx((400 / 7 + 100) / 2)
    assert list(out["subsets"]) == ["gsm8k", "math"]
    assert out["subsets"]["math"] == {"acc_error": 100.0, "acc_correct": 100.0, "f1": 100.0, "n_error": 2, "n_correct": 2}


def test_missing_or_none_predictions_count_as_wrong():
    # math: erroneous math-0 (label 3) predicted right, math-1 (label 0) missing → acc_error = 1/2 = 50 %
    #       correct math-2 predicted −1, math-3 predicted None (unparseable) → acc_correct = 1/2 = 50 %
    #       f1 = 2·50·50 / (50 + 50) = 50 %
    s = score_subset(MATH, {"math-0": 3, "math-2": -1, "math-3": None})
    assert (s["acc_error"], s["acc_correct"], s["f1"]) == (50.0, 50.0, 50.0)
    # no predictions at all: 0 % and 0 %, and f1 = 0 by our convention for 0 + 0 (numpy would give NaN)
    s = score_subset(MATH, {})
    assert (s["acc_error"], s["acc_correct"], s["f1"]) == (0.0, 0.0, 0.0)


def test_a_correct_record_predicted_with_a_step_index_is_wrong_and_vice_versa():
    # erroneous record (label 1) predicted −1 → 0/1; correct record predicted 1 → 0/1
    s = score_subset([rec("a", 1), rec("b", -1)], {"a": -1, "b": 1})
    assert (s["acc_error"], s["acc_correct"], s["f1"]) == (0.0, 0.0, 0.0)


def test_subset_without_correct_records_is_nan_and_left_out_of_the_average():
    # "olympiadbench": 2 erroneous, 0 correct. acc_error = 1/2 = 50 %, acc_correct = 0/0 undefined → NaN, f1 NaN.
    # "omnimath":      0 erroneous, 2 correct. acc_error undefined → NaN, acc_correct = 2/2 = 100 %, f1 NaN.
    # average over the defined subsets only: gsm8k 400/7 and math 100 → (400/7 + 100) / 2
    oly = [rec("olympiadbench-0", 0), rec("olympiadbench-1", 2)]
    omni = [rec("omnimath-0", -1), rec("omnimath-1", -1)]
    preds = {**GSM_PRED, **MATH_PRED, "olympiadbench-0": 0, "olympiadbench-1": 0, "omnimath-0": -1, "omnimath-1": -1}
    with pytest.warns(UserWarning) as caught:
        out = score({"gsm8k": GSM, "math": MATH, "olympiadbench": oly, "omnimath": omni}, preds)
    messages = " ".join(str(w.message) for w in caught)
    assert "'olympiadbench' has no correct records" in messages
    assert "'omnimath' has no erroneous records" in messages
    o, m = out["subsets"]["olympiadbench"], out["subsets"]["omnimath"]
    assert o["acc_error"] == 50.0 and math.isnan(o["acc_correct"]) and math.isnan(o["f1"])
    assert math.isnan(m["acc_error"]) and m["acc_correct"] == 100.0 and math.isnan(m["f1"])
    assert (o["n_correct"], m["n_error"]) == (0, 0)
    assert out["average_f1"] == pytest.approx((400 / 7 + 100) / 2)


def test_average_is_nan_when_no_subset_is_defined():
    with pytest.warns(UserWarning):
        out = score({"x": [rec("x-0", 0)]}, {"x-0": 0})
    assert math.isnan(out["average_f1"])


def test_equivalent_to_the_official_script_on_random_data():
    # Direct re-implementation of QwenLM/ProcessBench code/run_eval_prm_trl.py (same lines as run_eval.py):
    #   data1 = [e for e in data if e['label'] != -1]; data2 = [... == -1]
    #   acc1 = np.mean([e['match'] for e in data1]) * 100; acc2 = ...; f1 = 2*acc1*acc2/(acc1+acc2)
    #   print(np.mean(all_f1_scores))
    rng = np.random.default_rng(0)
    for trial in range(20):
        by_subset, preds, official_f1s = {}, {}, []
        for name in SUBSETS:
            n_steps = rng.integers(1, 8, size=int(rng.integers(2, 40)))
            labels = [int(rng.integers(-1, k)) for k in n_steps]
            labels[0], labels[1] = -1, int(n_steps[1]) - 1  # at least one of each class: the official F1 exists
            records = [rec(f"{name}-{i}", lab, int(k)) for i, (lab, k) in enumerate(zip(labels, n_steps))]
            for r, lab in zip(records, labels):
                # a biased guesser: often right, otherwise a random index, −1 or (rarely) no prediction
                u = rng.random()
                preds[r.id] = lab if u < 0.5 else (None if u > 0.95 else int(rng.integers(-1, len(r.steps))))
            data = [{"label": r.label, "match": preds[r.id] == r.label} for r in records]
            data1 = [e for e in data if e["label"] != -1]
            data2 = [e for e in data if e["label"] == -1]
            acc1 = np.mean([e["match"] for e in data1]) * 100
            acc2 = np.mean([e["match"] for e in data2]) * 100
            with np.errstate(invalid="ignore"):
                f1 = 2 * acc1 * acc2 / (acc1 + acc2)
            official_f1s.append(0.0 if acc1 + acc2 == 0 else f1)  # our documented 0/0 convention
            by_subset[name] = records
            ours = score_subset(records, preds)
            assert (ours["acc_error"], ours["acc_correct"]) == pytest.approx((acc1, acc2)), trial
            assert ours["f1"] == pytest.approx(official_f1s[-1]), trial
        assert score(by_subset, preds)["average_f1"] == pytest.approx(np.mean(official_f1s)), trial


# ----------------------------------------------------------------------------------------------------------------
# Predictions from verdicts, and prediction files
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdicts", "expected", "expected_lenient"),
    [
        ([True, True, True], -1, -1),
        ([False, True], 0, 0),
        ([True, True, False, False], 2, 2),  # the first Negative wins; later steps do not matter
        ([True, None, False], 1, 2),  # None: Negative by default, skipped when lenient
        ([None], 0, -1),
        ([], -1, -1),
    ],
)
def test_first_negative_index(verdicts, expected, expected_lenient):
    assert first_negative_index(verdicts) == expected
    assert first_negative_index(verdicts, none_is_negative=False) == expected_lenient


def test_read_predictions_round_trip_and_extra_keys(tmp_path):
    p = tmp_path / "pred.jsonl"
    p.write_text('{"id": "gsm8k-0", "prediction": 2, "raw": "..."}\n\n{"id": "gsm8k-1", "prediction": -1}\n')
    assert read_predictions(p) == {"gsm8k-0": 2, "gsm8k-1": -1}
    write_predictions({"a": 0, "b": -1}, tmp_path / "out.jsonl")
    assert read_predictions(tmp_path / "out.jsonl") == {"a": 0, "b": -1}


@pytest.mark.parametrize(
    ("line2", "match"),
    [
        ('{"id": "b", "prediction": 1', r"pred\.jsonl:2: malformed JSON"),
        ('{"id": "b"}', r":2: expected an object"),
        ('["b", 1]', r":2: expected an object"),
        ('{"id": 7, "prediction": 1}', r":2: id must be a string"),
        ('{"id": "b", "prediction": true}', r":2: prediction must be an integer"),
        ('{"id": "b", "prediction": 1.0}', r":2: prediction must be an integer"),
        ('{"id": "b", "prediction": "1"}', r":2: prediction must be an integer"),
        ('{"id": "b", "prediction": -2}', r":2: prediction must be an integer >= -1"),
        ('{"id": "a", "prediction": 0}', r":2: duplicate id 'a'"),
    ],
)
def test_read_predictions_errors_name_the_line(tmp_path, line2, match):
    p = tmp_path / "pred.jsonl"
    p.write_text('{"id": "a", "prediction": 0}\n' + line2 + "\n")
    with pytest.raises(ValueError, match=match):
        read_predictions(p)


# ----------------------------------------------------------------------------------------------------------------
# Records and loading
# ----------------------------------------------------------------------------------------------------------------


def test_validate_record_accepts_the_real_schema():
    r = validate_record(raw("gsm8k-0", 1), "gsm8k.json[0]")
    assert r == PBRecord("gsm8k-0", "Qwen2-7B-Instruct", raw("x", 1)["problem"], tuple(raw("x", 1)["steps"]), False, 1)
    assert r.to_dict() == raw("gsm8k-0", 1)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"id": None}, "'id' must be a string"),
        ({"generator": 3}, "'generator' must be a string"),
        ({"steps": "one step"}, "'steps' must be a list of strings"),
        ({"steps": ["a", 2]}, "'steps' must be a list of strings"),
        ({"steps": []}, "'steps' is empty"),
        ({"final_answer_correct": 1}, "'final_answer_correct' must be a boolean"),
        ({"label": True}, "'label' must be an integer"),
        ({"label": 1.0}, "'label' must be an integer"),
        ({"label": 3}, r"'label' must be -1 or in \[0, 3\), got 3"),
        ({"label": -2}, r"'label' must be -1 or in \[0, 3\)"),
    ],
)
def test_validate_record_names_where_and_the_field(change, match):
    with pytest.raises(ValueError, match=r"^math\.json:7: field " + match):
        validate_record({**raw("math-0", 0), **change}, "math.json:7")


def test_validate_record_missing_field():
    obj = raw("math-0", 0)
    del obj["final_answer_correct"]
    with pytest.raises(ValueError, match="math.json:3: missing field 'final_answer_correct'"):
        validate_record(obj, "math.json:3")
    with pytest.raises(ValueError, match="expected a JSON object"):
        validate_record([1, 2], "math.json:3")


def write_array(path: Path, rows: list[dict]) -> None:
    path.write_text(json.dumps(rows, indent=2))


def write_lines(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_load_json_arrays_and_json_lines_in_official_order(tmp_path):
    # files created out of order and in both formats; the loader returns the official order
    write_lines(tmp_path / "omnimath.jsonl", [raw("omnimath-0", -1), raw("omnimath-1", 2)])
    write_array(tmp_path / "gsm8k.json", [raw("gsm8k-0", 1), raw("gsm8k-1", -1, generator="Meta-Llama-3-8B-Instruct")])
    write_lines(tmp_path / "math.json", [raw("math-0", 0)])  # JSON lines under a .json name
    data = load_processbench(tmp_path)
    assert list(data) == ["gsm8k", "math", "omnimath"]
    assert [r.id for r in data["gsm8k"]] == ["gsm8k-0", "gsm8k-1"]
    assert data["gsm8k"][1].generator == "Meta-Llama-3-8B-Instruct"
    assert data["omnimath"][1].label == 2 and data["omnimath"][0].final_answer_correct is True
    assert load_processbench(str(tmp_path)) == data


def test_load_toy_subsets_after_official_ones(tmp_path):
    for name in ["level_3", "gsm8k", "level_1"]:
        write_array(tmp_path / f"{name}.json", [raw(f"{name}-0", -1)])
    (tmp_path / "notes.txt").write_text("ignored: not a subset file")
    assert list(load_processbench(tmp_path)) == ["gsm8k", "level_1", "level_3"]


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="no subset files"):
        load_processbench(tmp_path)
    write_array(tmp_path / "gsm8k.json", [raw("gsm8k-0", 0)])
    with pytest.raises(ValueError, match="expected a directory"):
        load_processbench(tmp_path / "gsm8k.json")
    with pytest.raises(FileNotFoundError):
        load_processbench(tmp_path / "missing")
    write_lines(tmp_path / "gsm8k.jsonl", [raw("gsm8k-9", 0)])
    with pytest.raises(ValueError, match="'gsm8k' given twice"):
        load_processbench(tmp_path)


def test_load_duplicate_ids_across_subsets(tmp_path):
    write_array(tmp_path / "gsm8k.json", [raw("gsm8k-0", 0)])
    write_array(tmp_path / "math.json", [raw("math-0", 0), raw("gsm8k-0", -1)])
    with pytest.raises(ValueError, match="duplicate id 'gsm8k-0'"):
        load_processbench(tmp_path)


def test_load_bad_record_names_file_and_line(tmp_path):
    bad = raw("math-1", 0)
    del bad["label"]
    write_lines(tmp_path / "math.jsonl", [raw("math-0", 0), bad])
    with pytest.raises(ValueError, match=r"math\.jsonl:2: missing field 'label'"):
        load_processbench(tmp_path)
    (tmp_path / "math.jsonl").write_text(json.dumps(raw("math-0", 0)) + "\n{not json\n")
    with pytest.raises(ValueError, match=r"math\.jsonl:2: invalid JSON"):
        load_processbench(tmp_path)
    (tmp_path / "math.jsonl").unlink()
    write_array(tmp_path / "math.json", [raw("math-0", 0), {**raw("math-1", 0), "label": 9}])
    with pytest.raises(ValueError, match=r"math\.json\[1\]: field 'label'"):
        load_processbench(tmp_path)


def _dataset_dict(rows_by_split):
    import datasets

    return datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in rows_by_split.items()})


ROWS = {
    "math": [raw("math-0", 2), raw("math-1", -1, n_steps=5)],
    "gsm8k": [raw("gsm8k-0", -1), raw("gsm8k-1", 0)],
}


def test_load_a_saved_dataset_dict(tmp_path):
    _dataset_dict(ROWS).save_to_disk(str(tmp_path / "pb"))
    data = load_processbench(tmp_path / "pb")
    assert list(data) == ["gsm8k", "math"]
    assert [r.to_dict() for r in data["math"]] == ROWS["math"]
    assert [r.to_dict() for r in data["gsm8k"]] == ROWS["gsm8k"]


def test_hub_id_goes_through_datasets_load_dataset(tmp_path, monkeypatch):
    # No network here: stand in for the hub with the same DatasetDict load_dataset would return.
    import datasets

    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda source: calls.append(source) or _dataset_dict(ROWS))
    monkeypatch.chdir(tmp_path)  # so "Qwen/ProcessBench" is not a local path
    data = load_processbench("Qwen/ProcessBench")
    assert calls == ["Qwen/ProcessBench"] and list(data) == ["gsm8k", "math"]


def test_hub_failure_says_it_is_neither_a_local_directory_nor_on_the_hub(tmp_path, monkeypatch):
    import datasets

    def offline(source):
        raise ConnectionError("Couldn't reach the Hub")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="runs/pb: no such local directory, and not loadable from the hub"):
        load_processbench("runs/pb")  # e.g. a mistyped relative path


def test_save_then_load_round_trip(tmp_path):
    data = {"gsm8k": [rec("gsm8k-0", 1)], "level_2": [raw("level_2-0", -1)]}  # PBRecords and plain dicts
    save_processbench(data, tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["gsm8k.json", "level_2.json"]  # no temp files left
    assert isinstance(json.loads((tmp_path / "out" / "gsm8k.json").read_text()), list)
    loaded = load_processbench(tmp_path / "out")
    assert loaded == {"gsm8k": [rec("gsm8k-0", 1)], "level_2": [validate_record(raw("level_2-0", -1), "")]}


def test_save_rejects_bad_names_records_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match="invalid subset name"):
        save_processbench({"../x": [rec("a", 0)]}, tmp_path)
    with pytest.raises(ValueError, match=r"gsm8k\[0\]: missing field"):
        save_processbench({"gsm8k": [{"id": "a"}]}, tmp_path)
    with pytest.raises(ValueError, match="duplicate id 'a'"):
        save_processbench({"gsm8k": [rec("a", 0)], "math": [rec("a", -1)]}, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written when validation fails


def test_docstring_examples_run():
    assert doctest.testmod(processbench).failed == 0


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------


def _bench(tmp_path: Path) -> tuple[Path, Path]:
    """The GSM/MATH cases above as real-schema files, and their predictions as JSON lines."""
    data = tmp_path / "data"
    save_processbench({"gsm8k": GSM, "math": MATH}, data)
    pred = tmp_path / "pred.jsonl"
    write_predictions({**GSM_PRED, **MATH_PRED}, pred)
    return data, pred


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # The repository first, then whatever the caller's PYTHONPATH holds (packages installed with --target, say).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
    cmd = [sys.executable, "-m", "stepwiser_core.processbench", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_success_prints_a_table_and_writes_json(tmp_path):
    data, pred = _bench(tmp_path)
    out = tmp_path / "res" / "score.json"
    proc = _cli("score", "--data", str(data), "--predictions", str(pred), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["subset", "n_error", "n_correct", "acc_error", "acc_correct", "f1"]
    assert lines[2].split() == ["gsm8k", "4", "3", "50.0", "66.7", "57.1"]
    assert lines[3].split() == ["math", "2", "2", "100.0", "100.0", "100.0"]
    assert lines[4].split() == ["average", "6", "5", "78.6"]  # (57.142857 + 100) / 2
    result = json.loads(out.read_text())
    assert result["average_f1"] == pytest.approx((400 / 7 + 100) / 2)
    assert result["subsets"]["gsm8k"]["f1"] == pytest.approx(400 / 7)
    assert set(result["subsets"]["math"]) >= {"acc_error", "acc_correct", "f1"}
    assert sorted(os.listdir(out.parent)) == ["score.json"]


def test_cli_unknown_id_exits_2_naming_it(tmp_path):
    data, pred = _bench(tmp_path)
    with pred.open("a") as f:
        f.write('{"id": "gsm8k-999", "prediction": 0}\n')
    proc = _cli("score", "--data", str(data), "--predictions", str(pred), "--out", "o.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert "gsm8k-999" in proc.stderr and "not in the data" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.json").exists()


def test_cli_malformed_line_exits_2_naming_the_line(tmp_path):
    data, pred = _bench(tmp_path)
    pred.write_text('{"id": "gsm8k-0", "prediction": 0}\n{"id": "gsm8k-1", "prediction": \n')
    proc = _cli("score", "--data", str(data), "--predictions", str(pred), "--out", "o.json", cwd=tmp_path)
    assert proc.returncode == 2
    assert "pred.jsonl:2" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_in_process_nan_subset_missing_predictions(tmp_path, capsys):
    # In-process (no subprocess): a subset without correct records is null in the JSON and warned about, and a
    # missing prediction is noted. gsm8k: only GSM_PRED["gsm8k-0"] given → acc_error 1/4 = 25 %, acc_correct 0 %.
    data = tmp_path / "data"
    save_processbench({"gsm8k": GSM, "level_9": [rec("level_9-0", 1)]}, data)
    pred = tmp_path / "p.jsonl"
    write_predictions({"gsm8k-0": 0, "level_9-0": 1}, pred)
    out = tmp_path / "s.json"
    assert main(["score", "--data", str(data), "--predictions", str(pred), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "6 record(s) have no prediction" in err and "warning: subset 'level_9' has no correct records" in err
    result = json.loads(out.read_text())
    assert result["subsets"]["level_9"]["f1"] is None and result["subsets"]["level_9"]["acc_error"] == 100.0
    assert result["subsets"]["gsm8k"]["acc_error"] == 25.0 and result["subsets"]["gsm8k"]["f1"] == 0.0
    assert result["average_f1"] == 0.0


def test_cli_missing_data_dir_exits_2(tmp_path, capsys):
    pred = tmp_path / "p.jsonl"
    pred.write_text("")
    assert main(["score", "--data", str(tmp_path / "nope"), "--predictions", str(pred), "--out", "x"]) == 2
    assert "no such directory" in capsys.readouterr().err
