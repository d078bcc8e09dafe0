"""Are the judge's rationales faithful? An audit the paper does not make (its reviewers asked for it, and its RL
reward looks at the verdict only, reference/paper.md §8).

In the toy world a judge's analysis can be checked exactly. The base model learned the analysis format of
`instruct.toy_analysis`:

    Next: <operation sentence> Check: <a><op><b>=<c>. Chunk: <quoted key line>. Match: yes|no.
    (or "Next: the final answer. Check: <value>." for the answer step)

or the "redo" style of stage 03's judge warm-up (`Redo: <operation sentence>\n<a><op><b>=<c>\nChunk: <result>.
Match: yes|no.`, or `Redo: The answer is <value>.`), followed by `Final Judgment: \\boxed{Positive|Negative}`.
Questions per output:

- `computation_correct`: is the re-derived computation (the "Check:" part) right for the step the chunk should
  take? The truth is the problem's own values and operations, at the position the history has reached.
- `verdict_consistent`: does the verdict follow from the judge's own analysis ("Match: yes" ⇒ Positive,
  "Match: no" ⇒ Negative)?
- `comparison_correct` (when the chunk is given): does "Match" say whether the judge's own re-derived result equals
  the result the chunk actually states? A judge can compute right and then compare wrong; the toy base model does.
  For the "lines" style (`Redo: <sentence>\n<line>\nChunk: <the chunk's line>\nMatch: yes|no.`, one block per
  result line): whether every Match says if the two lines above it are identical, as the judge wrote them.

A judge can be right for the wrong reason (a wrong computation, a lucky verdict) or right in its analysis and
then ignore it; RL on the verdict alone could teach either. Each answer is None when the part it needs cannot be
parsed (no single "Check:", no single "Match:", or no verdict).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .instruct import chunk_result, lines_analysis
from .judge import parse_verdict
from .judge_eval import JudgeItem
from .world.checker import equations_written, parse_line
from .world.problems import SYMBOL, Problem, apply_op

__all__ = ["FAITHFULNESS_COLUMNS", "STEP_AUDIT_COLUMNS", "RationaleCheck", "analysis_self_consistent",
           "benchmark_step_rows", "check_rationale", "expected_check", "faithfulness_rows", "faithfulness_table",
           "false_negative_causes", "lines_blocks", "positive_rate_by_position", "reward_signal_rows",
           "reward_signal_table", "self_consistent_errors"]

# "Check: 3+4=7" (an operation step) or "Check: 7" (the answer step); spaces tolerated, since a model may add them.
_CHECK_EQ = re.compile(r"Check:\s*(?P<a>-?\d+)\s*(?P<op>[+*-])\s*(?P<b>-?\d+)\s*=\s*(?P<c>-?\d+)")
_CHECK_VALUE = re.compile(r"Check:\s*(?P<v>-?\d+)\s*(?:\.|$)", re.MULTILINE)
_REDO_EQ = re.compile(r"Redo:[^\n]*\n\s*(?P<a>-?\d+)\s*(?P<op>[+*-])\s*(?P<b>-?\d+)\s*=\s*(?P<c>-?\d+)")
_REDO_VALUE = re.compile(r"Redo:\s*The answer is (?:\\boxed\{)?(?P<v>-?\d+)\}?\.")
_MATCH = re.compile(r"Match:\s*(yes|no)\b")
# The "lines" style (`instruct.lines_analysis`): the redone line and the chunk's own line, then Match.
_LINES_BLOCK = re.compile(r"Redo:[^\n]*\n(?P<redo>[^\n]*)\nChunk: (?P<chunk>[^\n]*)\nMatch:\s*(?P<match>yes|no)\b")
_KIND = {symbol: kind for kind, symbol in SYMBOL.items()}


@dataclass(frozen=True)
class RationaleCheck:
    computation_correct: bool | None  # the "Check:" computation equals the truth for this step
    verdict_consistent: bool | None  # "Match: yes" with Positive, or "Match: no" with Negative
    verdict: bool | None  # the parsed verdict (judge.parse_verdict)
    comparison_correct: bool | None = None  # "Match: yes" iff the re-derived result equals the chunk's stated one
    quote_correct: bool | None = None  # "lines": each "Chunk:" line is the one the reference analysis quotes there

    @property
    def parsed(self) -> bool:
        """The analysis and the verdict could all be read."""
        return self.computation_correct is not None and self.verdict_consistent is not None


def expected_check(problem: Problem, history: Sequence[str]) -> tuple[int, str, int, int] | int:
    """The truth for the next step after an (assumed correct) history: (a, kind, b, c) for an operation, or the
    final answer once every operation is done. The position is the number of equations written so far, as in
    `instruct.toy_analysis`."""
    pos = equations_written(history)
    if pos < len(problem.ops):
        op, a = problem.ops[pos], problem.values[pos]
        return a, op.kind, op.operand, apply_op(op.kind, a, op.operand)
    return problem.answer


def _single(values: Iterable) -> object | None:
    # Several different readings of one field are a contradiction, as in judge.parse_verdict: no reading.
    found = set(values)
    return found.pop() if len(found) == 1 else None


def _read_check(text: str) -> tuple[int, str, int, int] | int | None:
    eqs = [(int(m["a"]), _KIND[m["op"]], int(m["b"]), int(m["c"]))
           for pattern in (_CHECK_EQ, _REDO_EQ) for m in pattern.finditer(text)]
    values = [int(m["v"]) for pattern in (_CHECK_VALUE, _REDO_VALUE) for m in pattern.finditer(text)]
    if eqs and values:
        return None
    return _single(eqs) if eqs else _single(values)


def check_rationale(problem: Problem, history: Sequence[str], output: str, chunk: str | None = None) -> RationaleCheck:
    """Audit one judge output on the toy item (problem, history, chunk). The truth of the step the chunk should take
    depends on the problem and the history only; the chunk is needed for `comparison_correct` alone (None without).

    Example:
        >>> from stepwiser_core.world.problems import Operation
        >>> p = Problem("x", 1, "Ann", "pens", 3, (Operation("add", 4),))
        >>> out = "Analysis: Next: First, 4 more arrive. Check: 3+4=7. Chunk: 3+4=8. Match: no.\\n"
        >>> r = check_rationale(p, [], out + "Final Judgment: \\\\boxed{Negative}")
        >>> (r.computation_correct, r.verdict_consistent, r.verdict, r.comparison_correct, r.quote_correct)
        (True, True, False, None, None)
    """
    text = output or ""
    verdict = parse_verdict(text)
    check = _read_check(text)
    computation = None if check is None else check == expected_check(problem, history)
    match = _single(m.group(1) for m in _MATCH.finditer(text))
    consistent = None if match is None or verdict is None else (match == "yes") == verdict
    comparison = quote = None
    blocks = list(_LINES_BLOCK.finditer(text))
    if blocks:  # "lines": Match must say whether the two lines it sits under are the same
        comparison = all((b["match"] == "yes") == (b["redo"].strip() == b["chunk"].strip()) for b in blocks)
        if chunk is not None:  # the reference (instruct.lines_analysis) quotes the chunk's result lines in order
            reference = [b["chunk"].strip() for b in _LINES_BLOCK.finditer(lines_analysis(problem, history, chunk)[0])]
            quote = all(b["chunk"].strip() == ref for b, ref in zip(blocks, reference))
    elif chunk is not None and check is not None and match is not None:
        derived = check[3] if isinstance(check, tuple) else check
        comparison = (match == "yes") == (str(derived) == chunk_result(chunk))
    return RationaleCheck(computation, consistent, verdict, comparison, quote)


def lines_blocks(text: str) -> list[tuple[str | None, str, bool]] | None:
    """The (redone line, quoted line, Match is yes) blocks of a "lines" analysis, as the judge wrote them; the redone
    line is None for the `Chunk: none` block. None when a Match does not sit under a readable block."""
    blocks = _lines_blocks_with_sentences(text)
    return None if blocks is None else [(redo, quote, yes) for _, redo, quote, yes in blocks]


def _lines_blocks_with_sentences(text: str) -> list[tuple[str | None, str | None, str, bool]] | None:
    """`lines_blocks`, each block led by its redone sentence (None for the answer and `Chunk: none` blocks)."""
    lines = (text or "").split("Final Judgment")[0].split("\n")
    if lines:
        lines[0] = lines[0].removeprefix("Analysis: ")
    blocks = []
    for i, line in enumerate(lines):
        match = re.fullmatch(r"Match:\s*(yes|no)\.?\s*", line)
        if line.startswith("Match:") and match is None:
            return None
        if match is None:
            continue
        if i < 1 or not lines[i - 1].startswith("Chunk: "):
            return None
        quote = lines[i - 1].removeprefix("Chunk: ").strip()
        sentence = None
        if i >= 2 and lines[i - 2].startswith("Redo: ") and "=" not in lines[i - 2]:  # the answer: one line
            redo = lines[i - 2].removeprefix("Redo: ").strip()
        elif i >= 3 and lines[i - 3].startswith("Redo:"):  # an operation: its sentence, then the line
            sentence, redo = lines[i - 3].removeprefix("Redo:").strip(), lines[i - 2].strip()
        elif quote == "none":
            redo = None
        else:
            return None
        blocks.append((sentence, redo, quote, match.group(1) == "yes"))
    return blocks or None


def analysis_self_consistent(output: str, chunk: str, strict: bool = False) -> bool | None:
    """Whether a "lines" judgment is consistent with itself and with the chunk it judges, read from the text alone
    (no truth, no label; so it can gate an RL reward, `judge_rl.consistent_cot_reward`, NOT the paper):

    - the quoted `Chunk:` lines are lines of the chunk, in the chunk's order, and no result line (an equation or
      the answer) of the chunk is passed over before the last quote; a Positive verdict quotes every result line;
      `Chunk: none` only for a chunk with no result line (and nothing unreadable);
    - every `Match` says whether the two lines above it are identical (`none` is a yes);
    - the verdict is Positive exactly when every Match is yes.

    What it cannot check is the redone line. By default it also leaves open which non-result line a Negative quotes
    (a misread operand in a sentence is quoted): a right sentence quoted in place of the equation passes, and GRPO
    learned to write exactly that (docs/judge_study.md, "Three times the steps"). `strict` closes that: a quoted
    line that is no result line is compared with the block's redone *sentence*, so its Match must say whether those two are
    identical (the warm-up's analyses quote a sentence only when it differs from the redone one).
    None when the output is not a "lines" analysis with a verdict.

    Example:
        >>> out = ("Analysis: Redo: First, 4 more arrive.\\n3+4=7\\nChunk: 3+4=8\\nMatch: no.\\n"
        ...        "Final Judgment: \\\\boxed{Negative}")
        >>> analysis_self_consistent(out, "First, 4 more arrive.\\n3+4=8")
        True
        >>> analysis_self_consistent(out.replace("Match: no", "Match: yes"), "First, 4 more arrive.\\n3+4=8")
        False
    """
    full, verdict = _lines_blocks_with_sentences(output), parse_verdict(output or "")
    if full is None or verdict is None:
        return None
    blocks = [(redo, quote, yes) for _, redo, quote, yes in full]
    lines = [line.strip() for line in chunk.splitlines()]
    results = [i for i, line in enumerate(lines) if parse_line(line)[0] in ("equation", "answer", "garbage")]
    if any(q == "none" for _, q, _ in blocks):  # the no-result block stands alone, for a chunk without results
        return (len(blocks) == 1 and blocks[0][0] is None and not results and blocks[0][2]
                and verdict is True)
    quoted: list[int] = []
    for _, quote, _ in blocks:  # quotes in order, each a line of the chunk after the previous one
        start = quoted[-1] + 1 if quoted else 0
        if quote not in lines[start:]:
            return False
        quoted.append(lines.index(quote, start))
    must_quote = results if verdict else [i for i in results if i < quoted[-1]]  # no result line passed over
    if not set(must_quote) <= set(quoted):
        return False
    # what each quote is compared with: the redone line, or (strict) the redone sentence for a non-result line
    against = [sentence if strict and sentence is not None and q not in results else redo
               for (sentence, redo, _, _), q in zip(full, quoted)]
    matches_ok = all(yes == (other == quote) for other, (_, quote, yes) in zip(against, blocks))
    return matches_ok and verdict == all(yes for _, _, yes in blocks)


FAITHFULNESS_COLUMNS = ["judge", "n", "parsable", "computation_correct", "comparison_correct", "verdict_consistent",
                        "right_for_wrong_reason", "n_computation", "n_consistency"]


def faithfulness_rows(judge_name: str, items: Sequence[JudgeItem],
                      outputs: Sequence[str | Sequence[str]]) -> list[dict]:
    """One row per judge output (k samples per item give k rows), with the item's true label and whether the
    verdict was right, ready for `faithfulness_table`. Only toy items can be checked: items whose problem is text
    alone (NuminaMath, no exact checker) give no rows."""
    if len(items) != len(outputs):
        raise ValueError(f"{len(items)} items but {len(outputs)} outputs")
    rows = []
    for item, outs in zip(items, outputs):
        if not isinstance(item.problem, Problem):
            continue
        for out in [outs] if isinstance(outs, str) else outs:
            r = check_rationale(item.problem, item.history, out, item.chunk)
            rows.append({"judge": judge_name, "problem_id": item.problem.id, "step": len(item.history),
                         "label": item.label, **asdict(r), "parsed": r.parsed,
                         "verdict_correct": r.verdict is not None and r.verdict == item.label})
    return rows


def _rate(values: Iterable) -> tuple[float, int]:
    known = [bool(v) for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    return (float(np.mean(known)) if known else float("nan")), len(known)


def faithfulness_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Per judge: n outputs; `parsable` = share whose analysis and verdict could all be read;
    `computation_correct` and `verdict_consistent` = rates among the outputs where each could be read
    (their counts in `n_computation`, `n_consistency`); `right_for_wrong_reason` = among correct verdicts with a
    readable computation, the share whose computation is wrong (NaN when rows carry no `verdict_correct`).
    Rates over zero outputs are NaN."""
    df = pd.DataFrame(list(rows))
    out = []
    for judge, g in (df.groupby("judge", sort=False) if len(df) else []):
        comp, n_comp = _rate(g["computation_correct"])
        cons, n_cons = _rate(g["verdict_consistent"])
        compare, _ = _rate(g["comparison_correct"]) if "comparison_correct" in g else (float("nan"), 0)
        parsed = (g["computation_correct"].notna() & g["verdict_consistent"].notna()).mean()
        lucky = float("nan")
        if "verdict_correct" in g:
            right = g[g["verdict_correct"].astype(bool) & g["computation_correct"].notna()]
            lucky = float((~right["computation_correct"].astype(bool)).mean()) if len(right) else float("nan")
        out.append({"judge": judge, "n": len(g), "parsable": float(parsed), "computation_correct": comp,
                    "comparison_correct": compare,
                     "verdict_consistent": cons, "right_for_wrong_reason": lucky,
                     "n_computation": n_comp, "n_consistency": n_cons})
    return pd.DataFrame(out, columns=FAITHFULNESS_COLUMNS)


# ---------------------------------------------------------------------------------------------------------------
# Where a first-error judge goes wrong on a benchmark: the rationale behind each verdict on the steps that decide
# the prediction (docs/results.md, "Toy ProcessBench": trained judges lose specificity on long solutions; this
# says why).

STEP_AUDIT_COLUMNS = ["judge", "id", "generator", "position", "step_correct", "verdict", "computation_correct",
                      "quote_correct", "comparison_correct"]


def benchmark_step_rows(judge_name: str, records: Sequence, problems: Mapping[str, Problem],
                        outputs: Sequence[str]) -> list[dict]:
    """One row per step that a first-error prediction depends on: every step of a correct solution (label −1), and
    the steps up to and including the first wrong one otherwise (later steps follow a wrong history: no truth).

    Args:
        records: `processbench.PBRecord`s, in the order they were judged.
        problems: the toy `Problem` of each record, by its text.
        outputs: one judge output per step of every record, flat, record by record (the order of
            `judges.judge_records` and `GenerativeJudge.last_outputs`).
    """
    total = sum(len(r.steps) for r in records)
    if len(outputs) != total:
        raise ValueError(f"{len(outputs)} outputs for {total} steps")
    rows, k = [], 0
    for r in records:
        last = len(r.steps) if r.label < 0 else r.label + 1
        for i in range(last):
            check = check_rationale(problems[r.problem], r.steps[:i], outputs[k + i], r.steps[i])
            rows.append({"judge": judge_name, "id": r.id, "generator": r.generator, "position": i,
                         "step_correct": i != r.label, "verdict": check.verdict,
                         "computation_correct": check.computation_correct, "quote_correct": check.quote_correct,
                         "comparison_correct": check.comparison_correct,
                         # label-free, what `judge_rl.consistent_cot_reward` gates on (None: not a "lines" judgment)
                         "self_consistent": analysis_self_consistent(outputs[k + i], r.steps[i]),
                         "self_consistent_strict": analysis_self_consistent(outputs[k + i], r.steps[i], strict=True),
                         "output": outputs[k + i]})
        k += len(r.steps)
    return rows


def _verdict_error_causes(rows: Iterable[Mapping], on_correct_steps: bool) -> pd.DataFrame:
    """The cause split behind `false_negative_causes` (correct steps, errors = not Positive) and
    `missed_error_causes` (wrong steps, errors = Positive): each cause counted only when the earlier ones do not
    apply, shares of the judge's errors."""
    df = pd.DataFrame(list(rows), columns=STEP_AUDIT_COLUMNS)
    steps = df[df["step_correct"].astype(bool) == on_correct_steps]
    n_name, rate_name = ("n_correct_steps", "positive_rate") if on_correct_steps else ("n_wrong_steps", "negative_rate")
    out = []
    for judge, g in steps.groupby("judge", sort=False):
        if on_correct_steps:
            errors = g[g["verdict"] != True]  # noqa: E712 (None, False and NaN all count as not Positive)
        else:  # an unparsable verdict on a wrong step predicts no error there: a miss as well
            errors = g[g["verdict"] != False]  # noqa: E712
        unparsed = errors["verdict"].isna()
        computation_wrong = ~unparsed & (errors["computation_correct"] != True)  # noqa: E712
        quote_wrong = ~unparsed & ~computation_wrong & (errors["quote_correct"] == False)  # noqa: E712
        earlier = unparsed | computation_wrong | quote_wrong
        comparison_wrong = ~earlier & (errors["comparison_correct"] != True)  # noqa: E712
        n = len(errors)
        share = (lambda mask: float(mask.sum()) / n) if n else (lambda mask: float("nan"))
        out.append({"judge": judge, n_name: len(g), rate_name: 1 - n / len(g),
                    "unparsed": share(unparsed), "computation_wrong": share(computation_wrong),
                    "quote_wrong": share(quote_wrong), "comparison_wrong": share(comparison_wrong),
                    "other": share(~earlier & ~comparison_wrong)})
    return pd.DataFrame(out, columns=["judge", n_name, rate_name, "unparsed", "computation_wrong", "quote_wrong",
                                      "comparison_wrong", "other"])


def false_negative_causes(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Per judge, on the correct steps of `benchmark_step_rows`: how many (`n_correct_steps`), the share judged
    Positive, and how the others split, each cause counted only when the earlier ones do not apply: `unparsed`
    (no verdict), `computation_wrong` (the re-derivation is wrong or unreadable), `quote_wrong` (a "Chunk:" line
    is not the chunk's line the reference analysis quotes there, e.g. its sentence instead of its equation),
    `comparison_wrong` (Match wrong about the two lines it compares) and `other` (the analysis reads right and
    still the verdict is Negative). The five shares sum to 1 over the judge's false
    Negatives (NaN when it has none)."""
    return _verdict_error_causes(rows, on_correct_steps=True)


def missed_error_causes(rows: Iterable[Mapping]) -> pd.DataFrame:
    """The same split on the wrong steps of `benchmark_step_rows` (each solution's first error): how many
    (`n_wrong_steps`), the share caught (`negative_rate`, judged Negative), and why the others were passed
    (Positive or unparsable). `computation_wrong` here is typically a re-derivation that repeats the chunk's own
    mistake; `comparison_wrong` a "Match: yes" under two different lines."""
    return _verdict_error_causes(rows, on_correct_steps=False)


def self_consistent_errors(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Per judge, how many of its benchmark errors (`benchmark_step_rows`) are self-consistent judgments
    (`analysis_self_consistent`, the property `judge_rl.consistent_cot_reward` pays for): `false_negatives` (correct
    steps not judged Positive) and `missed_errors` (first wrong steps not judged Negative), each with the share that
    is self-consistent. A high share means the gate cannot see the error: a wrong redo, or a Negative that quotes a
    right sentence of the step instead of its equation. The `_strict` shares use the strict gate
    (`analysis_self_consistent(..., strict=True)`, `judge_rl.strict_consistent_cot_reward`), which sees the latter."""
    df = pd.DataFrame(list(rows), columns=[*STEP_AUDIT_COLUMNS, "self_consistent", "self_consistent_strict"])
    out = []
    for judge, g in df.groupby("judge", sort=False):
        correct = g["step_correct"].astype(bool)
        fn, missed = g[correct & (g["verdict"] != True)], g[~correct & (g["verdict"] != False)]  # noqa: E712
        row = {"judge": judge, "false_negatives": len(fn), "missed_errors": len(missed)}
        for gate in ("self_consistent", "self_consistent_strict"):
            row[f"false_negatives_{gate}"] = float((fn[gate] == True).mean())  # noqa: E712
            row[f"missed_errors_{gate}"] = float((missed[gate] == True).mean())  # noqa: E712
        out.append(row)
    return pd.DataFrame(out, columns=["judge", "false_negatives", "false_negatives_self_consistent",
                                      "false_negatives_self_consistent_strict", "missed_errors",
                                      "missed_errors_self_consistent", "missed_errors_self_consistent_strict"])


def positive_rate_by_position(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Per judge and step position, the share of correct steps judged Positive (a wide table, one column per
    judge, plus `n` steps per position)."""
    df = pd.DataFrame(list(rows), columns=STEP_AUDIT_COLUMNS)
    df = df[df["step_correct"].astype(bool)].assign(positive=lambda d: d["verdict"] == True)  # noqa: E712
    wide = df.pivot_table(index="position", columns="judge", values="positive", aggfunc="mean", sort=False)
    counts = df.groupby("position").size().rename("n") / max(df["judge"].nunique(), 1)
    return wide.join(counts.astype(int)).reset_index()


# ---------------------------------------------------------------------------------------------------------------
# What GRPO's verdict reward pays for: in a group of samples on one item, only the samples of groups whose rewards
# differ carry a gradient, and the rewarded ones among them are what the update makes more likely. Whether those
# are faithful judgments decides whether GRPO teaches the comparison or a prior (docs/judge_study.md, "The
# mechanism, measured directly").

def reward_signal_rows(items: Sequence[Mapping], outputs: Sequence[Sequence[str]]) -> list[dict]:
    """One row per sampled judgment of a GRPO group: the item's rollout `label`, the verdict reward (`cot_reward`),
    the consistency-gated reward, and the audit of the analysis against the truth.

    Args:
        items: judge items as `judge_rl.judge_items_from_records` makes them, with `problem` a toy `Problem`
            (`history`, `chunk`, `label`; a `true_label` of None marks a chunk after the first true error, whose
            redo has no truth).
        outputs: the group of sampled judgments of each item.
    """
    if len(items) != len(outputs):
        raise ValueError(f"{len(items)} items but {len(outputs)} groups of outputs")
    rows = []
    for k, (item, group) in enumerate(zip(items, outputs)):
        for out in group:
            verdict = parse_verdict(out or "")
            consistent = analysis_self_consistent(out, item["chunk"])
            check = check_rationale(item["problem"], item["history"], out, item["chunk"])
            paid = verdict is not None and verdict == bool(item["label"])
            after_error = "true_label" in item and item["true_label"] is None  # a wrong history: no truth
            blocks = lines_blocks(out) or []
            rows.append({"item": k, "label": bool(item["label"]), "reward": float(paid),
                         "redo_lines": "\n".join(str(redo) for redo, _, _ in blocks),
                         "reward_gated": float(paid and bool(consistent)), "self_consistent": bool(consistent),
                         "computation_correct": None if after_error else check.computation_correct,
                         "quote_correct": check.quote_correct})
    return rows


def reward_signal_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Per rollout label (and all): `informative` = share of groups whose verdict rewards differ (GRPO's gradient
    comes from these alone), `paid_inconsistent` = among the rewarded samples of those groups, the share whose
    analysis contradicts itself (`analysis_self_consistent` not True: what the verdict reward teaches besides the
    comparison), `paid_redo_wrong` = the share whose redo is wrong against the truth, and `informative_gated` =
    the informative share under the consistency-gated reward. `informative_redo_varies`: among the informative
    groups, the share whose samples redo the step in more than one way (the rest differ only after the redo, in
    the quote, the Match or the verdict: nothing there for GRPO to reinforce in the redo)."""
    df = pd.DataFrame(list(rows))
    out = []
    for name, g in [("all", df)] + [("Positive" if lab else "Negative", g) for lab, g in df.groupby("label")]:
        mixed = g.groupby("item")["reward"].transform("nunique") > 1
        mixed_gated = g.groupby("item")["reward_gated"].nunique() > 1
        redo_ways = g[mixed].groupby("item")["redo_lines"].nunique()  # per informative group
        paid = g[mixed & (g["reward"] == 1.0)]
        redo = paid["computation_correct"].dropna().astype(bool)
        out.append({"label": name, "groups": int(g["item"].nunique()),
                    "informative": float((g.groupby("item")["reward"].nunique() > 1).mean()),
                    "paid_samples": len(paid),
                    "paid_inconsistent": float((~paid["self_consistent"]).mean()) if len(paid) else float("nan"),
                    "paid_redo_wrong": float((~redo).mean()) if len(redo) else float("nan"),
                    "informative_gated": float(mixed_gated.mean()),
                    "informative_redo_varies": float((redo_ways > 1).mean()) if len(redo_ways) else float("nan")})
    return pd.DataFrame(out)
