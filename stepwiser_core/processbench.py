"""ProcessBench: load the benchmark, turn step verdicts into predictions, and score them with the official metric.

ProcessBench (Zheng et al. 2024, arXiv 2412.06559; HF `Qwen/ProcessBench`) asks for the index of the earliest wrong
step of a solution, or −1 if every step is correct. StepWiser evaluates its judges on it (arXiv 2508.19229, §4.2,
Eq. 4, Tables 5, 6, 9, 10): each step is judged with the others as history, and the prediction is the first step
judged Negative. `reference/ecosystem.md` §1 describes the format and the metric, which we match line for line with
QwenLM/ProcessBench `code/run_eval.py` (and `run_eval_prm_trl.py`):

    acc_error   = 100 · mean(prediction == label) over records with label != −1
    acc_correct = 100 · mean(prediction == −1)    over records with label == −1
    f1          = 2 · acc_error · acc_correct / (acc_error + acc_correct)          (per subset)
    average_f1  = unweighted mean of the subset F1s                                (the paper's "Avg")

Documented departures, where the official script would crash or is silent:
- a subset without erroneous (or without correct) records has an undefined accuracy: we return NaN for it and its
  F1, leave it out of `average_f1` and warn (the official script divides by zero). JSON output writes NaN as null.
- acc_error + acc_correct = 0 gives F1 = 0 (numpy would give NaN with a warning).
- a record with no prediction counts as wrong, as a parse failure (None) does in the official script.

The toy benchmark uses the same files with other subset names (difficulty levels); any `*.json`/`*.jsonl` in the
directory is a subset named by its stem, the official names first in official order.

CLI::

    python -m stepwiser_core.processbench score --data DIR --predictions FILE --out OUT.json

FILE is JSON lines of `{"id": ..., "prediction": int}`. The module imports only the standard library at the top
(`datasets` is imported lazily), so the CLI starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stepwiser_core.io import atomic_write_text  # temp file + os.replace (+ fsync)

__all__ = [
    "SUBSETS",
    "PBRecord",
    "first_negative_index",
    "format_table",
    "load_processbench",
    "main",
    "read_predictions",
    "save_processbench",
    "score",
    "score_subset",
    "validate_record",
    "write_predictions",
]

SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")  # official order (HF splits, paper tables)
_SUFFIXES = (".json", ".jsonl")


# ----------------------------------------------------------------------------------------------------------------
# Records
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PBRecord:
    """One ProcessBench case. `label` is −1 if every step is correct, else the 0-based index of the first wrong step.

    `steps` is stored as a tuple so the record is really immutable; `to_dict()` gives the JSON schema back.
    """

    id: str
    generator: str
    problem: str
    steps: tuple[str, ...]
    final_answer_correct: bool
    label: int

    def to_dict(self) -> dict[str, Any]:
        """The record in ProcessBench's own JSON schema (steps as a list)."""
        d = asdict(self)
        d["steps"] = list(self.steps)
        return d


def _is_int(x: object) -> bool:
    # bool is an int subclass in Python, but True is not a step index.
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def validate_record(obj: object, where: str) -> PBRecord:
    """Check one raw record against the ProcessBench schema and return it as a `PBRecord`.

    Args:
        obj (`object`): a decoded JSON object (or a `datasets` row).
        where (`str`): its location for error messages, e.g. `"data/gsm8k.json:12"`.

    Raises:
        ValueError: naming `where` and the missing or mistyped field, or a label outside {−1} ∪ [0, len(steps)).

    Example:
        >>> r = validate_record({"id": "gsm8k-0", "generator": "Qwen2-7B-Instruct", "problem": "1+1?",
        ...                      "steps": ["1+1=3."], "final_answer_correct": False, "label": 0}, "x.json:1")
        >>> r.label, r.steps
        (0, ('1+1=3.',))
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    for key in ("id", "generator", "problem", "steps", "final_answer_correct", "label"):
        if key not in obj:
            raise ValueError(f"{where}: missing field {key!r}")
    for key in ("id", "generator", "problem"):
        if not isinstance(obj[key], str):
            raise ValueError(f"{where}: field {key!r} must be a string, got {type(obj[key]).__name__}")
    steps = obj["steps"]
    if not isinstance(steps, (list, tuple)) or not all(isinstance(s, str) for s in steps):
        raise ValueError(f"{where}: field 'steps' must be a list of strings")
    if not steps:
        raise ValueError(f"{where}: field 'steps' is empty")
    if not isinstance(obj["final_answer_correct"], bool):
        raise ValueError(f"{where}: field 'final_answer_correct' must be a boolean")
    label = obj["label"]
    if not _is_int(label):
        raise ValueError(f"{where}: field 'label' must be an integer, got {label!r}")
    if not (label == -1 or 0 <= label < len(steps)):
        raise ValueError(f"{where}: field 'label' must be -1 or in [0, {len(steps)}), got {label}")
    return PBRecord(obj["id"], obj["generator"], obj["problem"], tuple(steps), obj["final_answer_correct"], int(label))


# ----------------------------------------------------------------------------------------------------------------
# Loading and saving
# ----------------------------------------------------------------------------------------------------------------


def _read_json_records(path: Path) -> list[PBRecord]:
    """A JSON array (ProcessBench's GitHub files) or JSON lines; the first non-blank character decides."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
        return [validate_record(row, f"{path}[{i}]") for i, row in enumerate(rows)]
    records = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: invalid JSON line: {e.msg}") from None
        records.append(validate_record(row, f"{path}:{lineno}"))
    return records


def _order(names: Iterable[str]) -> list[str]:
    names = set(names)
    return [s for s in SUBSETS if s in names] + sorted(names - set(SUBSETS))


def _from_dataset_dict(dd: Any, origin: str) -> dict[str, list[PBRecord]]:
    return {
        split: [validate_record(row, f"{origin}[{split}][{i}]") for i, row in enumerate(dd[split])]
        for split in _order(dd.keys())
    }


def _check_unique_ids(by_subset: Mapping[str, Sequence[PBRecord]]) -> None:
    # Predictions are keyed by id alone, so ids must be unique across subsets, not only within one.
    seen: dict[str, str] = {}
    for subset, records in by_subset.items():
        for r in records:
            if r.id in seen:
                raise ValueError(f"duplicate id {r.id!r} (subsets {seen[r.id]!r} and {subset!r})")
            seen[r.id] = subset


def load_processbench(source: str | Path) -> dict[str, list[PBRecord]]:
    """Load ProcessBench (or the toy benchmark) as `{subset: [PBRecord, ...]}`, official subsets first.

    Args:
        source (`str | Path`): one of
            - a directory of `<subset>.json` / `<subset>.jsonl` files, each a JSON array or JSON lines;
            - a directory written by `datasets.DatasetDict.save_to_disk` (one split per subset);
            - a Hugging Face hub id such as `"Qwen/ProcessBench"` (only tried when no such local path exists).

    Raises:
        ValueError: no subset files, a subset given twice (`x.json` and `x.jsonl`), a bad record, a duplicate id.
        FileNotFoundError: `source` does not exist and does not look like a hub id.

    Example:
        >>> data = load_processbench("path/to/ProcessBench")       # doctest: +SKIP
        >>> {k: len(v) for k, v in data.items()}                   # doctest: +SKIP
        {'gsm8k': 400, 'math': 1000, 'olympiadbench': 1000, 'omnimath': 1000}
    """
    path = Path(source)
    if path.is_dir() and (path / "dataset_dict.json").is_file():
        import datasets  # lazy: heavy, and only this branch needs it

        out = _from_dataset_dict(datasets.load_from_disk(str(path)), str(path))
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _SUFFIXES)
        by_name: dict[str, Path] = {}
        for f in files:
            if f.stem in by_name:
                raise ValueError(f"subset {f.stem!r} given twice: {by_name[f.stem].name} and {f.name}")
            by_name[f.stem] = f
        if not by_name:
            raise ValueError(f"{path}: no subset files (*.json, *.jsonl) and no saved DatasetDict")
        out = {name: _read_json_records(by_name[name]) for name in _order(by_name)}
    elif path.exists():
        raise ValueError(f"{path}: expected a directory of subset files, not a file")
    elif isinstance(source, str) and source.count("/") == 1 and not source.startswith((".", "/", "~")):
        import datasets  # hub id: needs network or the HF cache; not exercised offline

        try:
            dd = datasets.load_dataset(source)
        except Exception as e:  # a mistyped relative path also lands here: say both things we tried
            raise FileNotFoundError(f"{source}: no such local directory, and not loadable from the hub: {e}") from e
        out = _from_dataset_dict(dd, source)
    else:
        raise FileNotFoundError(f"{source}: no such directory (and not a Hugging Face hub id)")
    _check_unique_ids(out)
    return out


def save_processbench(records_by_subset: Mapping[str, Sequence[PBRecord | Mapping]], directory: str | Path) -> None:
    """Write each subset as `<directory>/<subset>.json`, a JSON array in ProcessBench's schema, atomically.

    Records are validated first (dicts are accepted too), so a saved directory always loads back. Other files
    already in `directory` are left alone, and `load_processbench` would read them as subsets too.

    Example:
        >>> save_processbench(load_processbench("runs/toy/pb"), "/tmp/pb_copy")  # doctest: +SKIP
    """
    directory = Path(directory)
    checked: dict[str, list[PBRecord]] = {}
    for subset, records in records_by_subset.items():
        if not subset or Path(subset).name != subset or subset.startswith("."):
            raise ValueError(f"invalid subset name {subset!r}")
        checked[subset] = [
            r if isinstance(r, PBRecord) else validate_record(r, f"{subset}[{i}]") for i, r in enumerate(records)
        ]
    _check_unique_ids(checked)
    for subset, records in checked.items():
        text = json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=1)
        atomic_write_text(directory / f"{subset}.json", text + "\n")


# ----------------------------------------------------------------------------------------------------------------
# Predictions
# ----------------------------------------------------------------------------------------------------------------


def first_negative_index(verdicts: Sequence[bool | None], none_is_negative: bool = True) -> int:
    """The prediction of a stepwise judge: the index of the first step judged Negative (False), or −1 if none.

    A verdict of None (the judge's output could not be parsed) counts as Negative by default: a judge that cannot
    certify a step flags it, which is the conservative reading and keeps format failures visible in the score.
    With `none_is_negative=False` an unparseable verdict is skipped (treated as Positive).

    Example:
        >>> first_negative_index([True, True, False, False]), first_negative_index([True, True])
        (2, -1)
        >>> first_negative_index([True, None, False]), first_negative_index([True, None, False], none_is_negative=False)
        (1, 2)
    """
    for i, v in enumerate(verdicts):
        if v is False or (v is None and none_is_negative):
            return i
    return -1


def read_predictions(path: str | Path) -> dict[str, int]:
    """Read JSON lines of `{"id": str, "prediction": int}` (extra keys ignored) into `{id: prediction}`.

    Raises:
        ValueError: naming the line, for invalid JSON, a missing field, a non-string id, a prediction that is not
            an integer >= −1 (booleans are rejected), or an id seen before.
    """
    path = Path(path)
    out: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: malformed JSON line: {e.msg}") from None
        if not isinstance(row, dict) or "id" not in row or "prediction" not in row:
            raise ValueError(f'{where}: expected an object with "id" and "prediction"')
        pid, pred = row["id"], row["prediction"]
        if not isinstance(pid, str):
            raise ValueError(f"{where}: id must be a string, got {pid!r}")
        if not _is_int(pred) or pred < -1:
            raise ValueError(f"{where}: prediction must be an integer >= -1, got {pred!r}")
        if pid in out:
            raise ValueError(f"{where}: duplicate id {pid!r}")
        out[pid] = int(pred)
    return out


def write_predictions(predictions: Mapping[str, int], path: str | Path) -> None:
    """Write `{id: prediction}` as the JSON lines `read_predictions` and the CLI read, atomically."""
    lines = [json.dumps({"id": k, "prediction": int(v)}) + "\n" for k, v in predictions.items()]
    atomic_write_text(Path(path), "".join(lines))


# ----------------------------------------------------------------------------------------------------------------
# The metric (QwenLM/ProcessBench code/run_eval.py)
# ----------------------------------------------------------------------------------------------------------------


def _pct(hits: int, n: int) -> float:
    return 100.0 * hits / n if n else math.nan


def score_subset(records: Sequence[PBRecord], predictions: Mapping[str, int | None]) -> dict[str, float | int]:
    """Accuracy on erroneous records, accuracy on correct records and their harmonic mean, in percent.

    A record whose id is missing from `predictions` (or maps to None) counts as wrong.

    Example:
        >>> recs = [PBRecord(f"t-{i}", "g", "p", ("a", "b"), lab == -1, lab) for i, lab in enumerate([-1, -1, 0, 1])]
        >>> s = score_subset(recs, {"t-0": -1, "t-1": 0, "t-2": 0, "t-3": 0})
        >>> s["acc_error"], s["acc_correct"], round(s["f1"], 2)   # 1/2, 1/2 → F1 = 2·50·50/100
        (50.0, 50.0, 50.0)
    """
    errors = [r for r in records if r.label != -1]
    corrects = [r for r in records if r.label == -1]
    acc_error = _pct(sum(predictions.get(r.id) == r.label for r in errors), len(errors))
    acc_correct = _pct(sum(predictions.get(r.id) == -1 for r in corrects), len(corrects))
    if math.isnan(acc_error) or math.isnan(acc_correct):
        f1 = math.nan
    elif acc_error + acc_correct == 0:
        f1 = 0.0
    else:
        f1 = 2 * acc_error * acc_correct / (acc_error + acc_correct)
    return {
        "acc_error": acc_error,
        "acc_correct": acc_correct,
        "f1": f1,
        "n_error": len(errors),
        "n_correct": len(corrects),
    }


def score(
    records_by_subset: Mapping[str, Sequence[PBRecord]], predictions: Mapping[str, int | None]
) -> dict[str, Any]:
    """Score every subset and average the subset F1s, unweighted (the paper's "Avg"); percent throughout.

    Subsets whose F1 is undefined (no erroneous or no correct records) are left out of the average with a
    `UserWarning`; if none is defined the average is NaN. Ids in `predictions` that are not in the data are ignored
    here (the CLI rejects them).

    Returns:
        `{"subsets": {name: {"acc_error", "acc_correct", "f1", "n_error", "n_correct"}}, "average_f1": float}`
    """
    subsets = {name: score_subset(recs, predictions) for name, recs in records_by_subset.items()}
    defined = [s["f1"] for s in subsets.values() if not math.isnan(s["f1"])]
    for name, s in subsets.items():
        if math.isnan(s["f1"]):
            which = "erroneous" if s["n_error"] == 0 else "correct"
            warnings.warn(f"subset {name!r} has no {which} records: its F1 is undefined and left out of average_f1")
    average = sum(defined) / len(defined) if defined else math.nan
    return {"subsets": subsets, "average_f1": average}


# ----------------------------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------------------------


def _fmt(x: float | int | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.1f}" if isinstance(x, float) else str(x)


def format_table(result: Mapping[str, Any]) -> str:
    """A fixed-width table of `score`'s result: one row per subset and an `average` row (mean F1)."""
    cols = ("subset", "n_error", "n_correct", "acc_error", "acc_correct", "f1")
    rows = [[name, *(_fmt(s[c]) for c in cols[1:])] for name, s in result["subsets"].items()]
    subs = result["subsets"].values()
    n_err, n_cor = sum(s["n_error"] for s in subs), sum(s["n_correct"] for s in subs)
    rows.append(["average", str(n_err), str(n_cor), "", "", _fmt(result["average_f1"])])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]

    def line(cells: Sequence[str]) -> str:  # subset name left-aligned, numbers right-aligned
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, rows)])


def _json_safe(x: Any) -> Any:
    # NaN is not valid JSON; an undefined metric is written as null.
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    return x


def _cmd_score(args: argparse.Namespace) -> int:
    data = load_processbench(args.data)
    predictions = read_predictions(args.predictions)
    known = {r.id for recs in data.values() for r in recs}
    unknown = [pid for pid in predictions if pid not in known]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ValueError(f"{args.predictions}: prediction id(s) not in the data {args.data}: {shown}")
    missing = len(known) - len(predictions)
    if missing:
        print(f"note: {missing} record(s) have no prediction; they count as wrong", file=sys.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = score(data, predictions)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    print(format_table(result))
    atomic_write_text(Path(args.out), json.dumps(_json_safe(result), indent=2) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m stepwiser_core.processbench`; returns the exit code (2 on any input error)."""
    parser = argparse.ArgumentParser(prog="python -m stepwiser_core.processbench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("score", help="score first-error predictions with the official ProcessBench metric")
    p.add_argument("--data", required=True, help="directory of subset JSON/JSONL files, a saved DatasetDict, or a hub id")
    p.add_argument("--predictions", required=True, help='JSON lines of {"id": ..., "prediction": int}')
    p.add_argument("--out", required=True, help="output JSON file (written atomically)")
    args = parser.parse_args(argv)
    try:
        return _cmd_score(args)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
