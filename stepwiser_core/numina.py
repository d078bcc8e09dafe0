"""NuminaMath-CoT prompts for the paper tier's annotation (paper §4.1, reference/paper.md §2).

The paper starts from NuminaMath-CoT, deduplicated, and keeps only prompts "where Math-Verify can verify the reference
solution's answer against the ground truth". NuminaMath-CoT has no answer column: its ground truth is the last
`\\boxed{...}` of the reference solution. So a prompt is kept when that box exists and Math-Verify, reading the whole
solution as it reads a policy's, agrees with it: this drops proofs, unboxed answers and answers Math-Verify cannot
parse, which no rollout could ever be verified against.

Rows are visited in a seeded random order and the scan stops once `n` prompts are kept, so drawing 80k prompts never
runs Math-Verify over all 860k rows. Ids are `numina-<row>`, the row's index in the source split, so a prompt keeps
its id across draws and seeds.

A held-out part (`in_heldout`: 1 % of the problems, by a hash of the problem's text, so the same whatever the seed,
the stage or the file layout) is never drawn for training: 01's, 02's and 06's prompts come from the rest, and
`heldout_prompts` draws the evaluation set of the paper's Table 8 ("NuminaMath held-out 1K", whose construction the
paper does not give) from it alone.
"""
from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verify import AnswerVerifier, last_boxed

NUMINA_HUB_ID = "AI-MO/NuminaMath-CoT"
REQUIRED_COLUMNS = ("problem", "solution")  # the dataset also has `source` and `messages`
_DATA_SUFFIXES = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}


@dataclass(frozen=True)
class MathProblem:
    """A problem with a verifiable final answer and no exact step checker (the paper tier's kind).

    It has the fields the annotation reads from a toy `world.problems.Problem` (`id`, `text`, `answer`, `level`);
    `level` is 0, as NuminaMath has no difficulty levels."""

    id: str
    text: str
    answer: str
    source: str = ""
    level: int = 0


@dataclass(frozen=True)
class PromptSelection:
    problems: list[MathProblem]
    # rows visited, and why each was dropped: `duplicate`, `no_boxed_answer`, `unverifiable`, `excluded`
    counts: dict[str, int] = field(default_factory=dict)


def _data_files(directory: Path, split: str) -> list[Path]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in _DATA_SUFFIXES)
    in_split = [p for p in files if p.name.startswith(f"{split}-") or p.stem == split or p.parent.name == split]
    return in_split or files


def read_rows(location: str | Path, split: str, required: Sequence[str], what: str) -> Any:
    """`split` of a dataset as a `datasets.Dataset`, from a saved dataset, a folder of parquet / JSON / JSON-lines
    files (the files named for `split`, else all), one such file, or a hub id; rows must have the `required` columns
    (`what` names the dataset in errors). `read_numina` documents the cases."""
    import datasets  # lazy: heavy, and only the paper tier needs it

    path = Path(location)
    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise ValueError(f"{path}: no split {split!r}; it has {sorted(loaded)}")
            loaded = loaded[split]
        ds = loaded
    elif path.is_dir() or path.is_file():
        files = _data_files(path, split) if path.is_dir() else [path] if path.suffix in _DATA_SUFFIXES else []
        if not files:
            raise ValueError(f"{path}: no {what} data (*.parquet, *.jsonl, *.json, or a saved dataset)")
        kinds = {_DATA_SUFFIXES[f.suffix] for f in files}
        if len(kinds) > 1:
            raise ValueError(f"{path}: mixed file kinds {sorted(kinds)}; keep one format per folder")
        ds = datasets.load_dataset(kinds.pop(), data_files=[str(f) for f in files], split="train")
    elif isinstance(location, str) and location.count("/") == 1 and not location.startswith((".", "/", "~")):
        try:
            ds = datasets.load_dataset(location, split=split)
        except Exception as e:  # a mistyped relative path lands here too: say both things we tried
            raise FileNotFoundError(f"{location}: no such local path, and not loadable from the hub: {e}") from e
    else:
        raise FileNotFoundError(f"{location}: no such file or folder (and not a Hugging Face hub id)")
    missing = [c for c in required if c not in ds.column_names]
    if missing:
        raise ValueError(f"{location}: {what} rows need columns {list(required)}; missing {missing} "
                         f"(found {ds.column_names})")
    return ds


def read_numina(location: str | Path, split: str = "train") -> Any:
    """NuminaMath-CoT's `split` as a `datasets.Dataset`.

    Args:
        location: one of
            - a folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk` (then `split` is taken);
            - a folder of parquet / JSON / JSON-lines files, such as a snapshot of the hub repository
              (`data/train-00000-of-00005.parquet`, ...): the files named for `split`, else all of them;
            - one such file;
            - the hub id `"AI-MO/NuminaMath-CoT"` (needs network or the HF cache; tried only when no local path
              of that name exists).
        split: `"train"` (859k rows) or `"test"` (100).

    Raises:
        FileNotFoundError: no such path, and not loadable from the hub.
        ValueError: no data files, an unknown split of a saved DatasetDict, or rows without `problem` / `solution`.
    """
    return read_rows(location, split, REQUIRED_COLUMNS, "NuminaMath")


def normalize_problem(text: str) -> str:
    """The key deduplication compares: whitespace collapsed, case kept (case can matter in mathematics)."""
    return re.sub(r"\s+", " ", text or "").strip()


def reference_answer(solution: str) -> str | None:
    """The ground truth of a NuminaMath-CoT row: the last boxed expression of its reference solution."""
    answer = last_boxed(solution)
    return answer or None


# NOT SPECIFIED by the paper: the share of NuminaMath-CoT's problems held out of every training draw. 1 % of the
# 860k rows leaves several thousand verifiable prompts to draw the held-out 1K from, and costs training nothing.
HELDOUT_SHARE = 0.01
PARTS = ("train", "heldout")


def in_heldout(text: str, share: float = HELDOUT_SHARE) -> bool:
    """Whether a problem is in the held-out part: the first 8 bytes of the SHA-256 of its normalised text, read as a
    fraction of 2^64, fall below `share`. A pure function of the text, so duplicates fall on the same side."""
    return _key_in_heldout(normalize_problem(text), share)


def _key_in_heldout(key: str, share: float = HELDOUT_SHARE) -> bool:
    """`in_heldout` of a text already normalised (the scan of `select_prompts` has it in hand)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2 ** 64


def select_prompts(rows: Sequence[Mapping[str, Any]], n: int, seed: int, verifier: AnswerVerifier,
                   exclude: Iterable[str] = (), purpose: str = "annotation", part: str = "train") -> PromptSelection:
    """Up to `n` deduplicated, verifiable prompts, visited in a seeded random order (paper §4.1).

    Args:
        rows: NuminaMath-CoT rows (a `datasets.Dataset` or a list of dicts with `problem`, `solution`, and
            optionally `source`).
        n: how many prompts to keep.
        seed: fixes the order rows are visited in, hence which prompts are kept.
        verifier: Math-Verify on the paper tier (`verify.MathVerifyVerifier`).
        exclude: problem texts never to keep (e.g. an evaluation set's), compared after `normalize_problem`.
        purpose: salts the order, so that stages drawing with one seed (01's segmentation prompts, 02's annotation
            prompts) get independent random subsets, as the paper's 20k and 40k are (their overlap NOT SPECIFIED).
        part: "train" (every draw for training: the held-out part is skipped) or "heldout" (only the held-out part,
            `in_heldout`).

    Returns:
        The kept problems in visiting order, and counts: `visited`, `kept`, and one count per reason to drop
        (`other_part`: rows of the part not drawn from).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    order = list(range(len(rows)))
    random.Random(f"{seed}:numina-prompts:{purpose}").shuffle(order)
    excluded = {normalize_problem(t) for t in exclude}
    seen = set(excluded)
    counts = dict.fromkeys(("visited", "kept", "other_part", "duplicate", "excluded", "no_boxed_answer",
                            "unverifiable"), 0)
    kept: list[MathProblem] = []
    for index in order:
        if len(kept) >= n:
            break
        row = rows[index]
        counts["visited"] += 1
        key = normalize_problem(row["problem"])
        if _key_in_heldout(key) != (part == "heldout"):
            counts["other_part"] += 1
            continue
        if key in seen:
            counts["excluded" if key in excluded else "duplicate"] += 1
            continue
        seen.add(key)
        answer = reference_answer(row["solution"])
        if answer is None:
            counts["no_boxed_answer"] += 1
        elif not verifier.is_correct(row["solution"], answer):
            counts["unverifiable"] += 1
        else:
            kept.append(MathProblem(f"numina-{index}", row["problem"].strip(), answer, str(row.get("source") or "")))
    counts["kept"] = len(kept)
    return PromptSelection(kept, counts)


def draw_prompts(location: str | Path, split: str, n: int, seed: int, verifier: AnswerVerifier,
                 purpose: str, exclude: Iterable[str] = (), part: str = "train") -> PromptSelection:
    """`read_numina` then `select_prompts`: what a stage calls."""
    return select_prompts(read_numina(location, split), n, seed, verifier, exclude, purpose, part)


def heldout_prompts(location: str | Path, split: str, n: int, verifier: AnswerVerifier) -> list[MathProblem]:
    """Our "NuminaMath held-out 1K" ([P Table 8]; its construction NOT SPECIFIED): `n` deduplicated, verifiable prompts
    of the held-out part, in a fixed order (seed 0), so every run and every seed of the study evaluates on the same
    ones, and no training draw ever holds one of them."""
    return draw_prompts(location, split, n, 0, verifier, "heldout", part="heldout").problems
