"""Toy word problems: a start value, a chain of operations, optional distractor quantities.

The four difficulty levels are the analogs of ProcessBench's subsets (GSM8K → Omni-MATH): more
operations, larger operands and more irrelevant quantities to misread. Intermediate values stay in
[0, `max_value`] so that a tiny model can learn the arithmetic in minutes on a CPU.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

OPS = ("add", "sub", "mul")
SYMBOL = {"add": "+", "sub": "-", "mul": "*"}
NAMES = ("Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gus", "Hana", "Ivo", "Jo")
ITEMS = ("apples", "coins", "cards", "beads", "stamps", "shells", "books", "pens")
# Operations are announced with ordinals in the problem and in solutions: a cue a small model can match
# to find the next operand among the sentences and distractors.
ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth")


def apply_op(kind: str, a: int, b: int) -> int:
    """The result of one operation; the only arithmetic the world knows."""
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a * b
    raise ValueError(f"unknown operation {kind!r}; valid: {OPS}")


@dataclass(frozen=True)
class LevelSpec:
    """The difficulty knob of one level: how many operations, how large, how many distractors."""

    name: str  # the ProcessBench subset this level stands in for
    min_ops: int
    max_ops: int  # at most len(ORDINALS)
    max_operand: int
    n_distractors: int
    max_value: int  # every intermediate value stays in [0, max_value]
    mul_factors: tuple[int, ...] = (2, 3)


# Level 1..4 ≈ GSM8K, MATH, OlympiadBench, Omni-MATH: more operations, more distractor quantities to
# misread, larger values. Numbers stay small on purpose: a ~2M-parameter model has to learn to read and
# compute in minutes on a CPU. With operands up to 49 and values up to 99 it had not got past copying
# the format after 800 steps (the calibration runs are described in the README).
LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec("gsm8k", 2, 3, 5, 0, max_value=9),
    2: LevelSpec("math", 3, 4, 9, 1, max_value=9),
    3: LevelSpec("olympiadbench", 4, 5, 9, 2, max_value=19),
    4: LevelSpec("omnimath", 5, 6, 9, 3, max_value=19),
}


@dataclass(frozen=True)
class Operation:
    kind: str
    operand: int

    @property
    def symbol(self) -> str:
        return SYMBOL[self.kind]


@dataclass(frozen=True)
class Problem:
    """One word problem. `text` is what models read; the rest is the exact ground truth."""

    id: str
    level: int
    name: str
    items: str
    start: int
    ops: tuple[Operation, ...]
    distractors: tuple[tuple[str, int], ...] = field(default=())  # (other person, amount)
    text: str = ""

    @property
    def values(self) -> list[int]:
        """Value before any operation, then after each one: len(ops) + 1 numbers."""
        vals = [self.start]
        for op in self.ops:
            vals.append(apply_op(op.kind, vals[-1], op.operand))
        return vals

    @property
    def answer(self) -> int:
        return self.values[-1]

    def to_dict(self) -> dict:
        return {
            "id": self.id, "level": self.level, "name": self.name, "items": self.items,
            "start": self.start, "ops": [[o.kind, o.operand] for o in self.ops],
            "distractors": [list(d) for d in self.distractors], "text": self.text,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Problem":
        return cls(
            id=d["id"], level=int(d["level"]), name=d["name"], items=d["items"], start=int(d["start"]),
            ops=tuple(Operation(k, int(b)) for k, b in d["ops"]),
            distractors=tuple((p, int(n)) for p, n in d["distractors"]), text=d["text"],
        )


def operation_sentence(index: int, op: Operation, items: str) -> str:
    """'Second, 3 are given away.': how the problem states its operation number `index` (0-based).

    Solutions restate it word for word, and the operand comes right after its ordinal: copying a
    number two tokens after a key is what a small transformer learns fastest (an induction head).
    """
    if op.kind == "add":
        return f"{ORDINALS[index]}, {op.operand} more arrive."
    if op.kind == "sub":
        return f"{ORDINALS[index]}, {op.operand} are given away."
    return f"{ORDINALS[index]}, {op.operand} times as many {items}."


def render_problem_text(name: str, items: str, start: int, ops, distractors, rng: random.Random) -> str:
    """Sentences in order, one per line, with distractor sentences ('Ben has 12 coins.') dropped in."""
    sentences = [f"{name} has {start} {items}."] + [operation_sentence(i, o, items) for i, o in enumerate(ops)]
    for person, amount in distractors:
        sentences.insert(rng.randint(1, len(sentences)), f"{person} has {amount} {items}.")
    # One sentence per line: a line-initial word is one token ("Second"), a mid-line one another ("ĠSecond"),
    # and solutions restate these sentences at line starts, so copying them is an exact-token match.
    return "\n".join(sentences) + f"\nHow many {items} does {name} have now?"


def _choose_op(rng: random.Random, value: int, spec: LevelSpec) -> Operation:
    """A random operation that keeps the value in [0, max_value] (rejection-free: only valid choices)."""
    choices: list[Operation] = []
    if value + 1 <= spec.max_value:
        choices.append(Operation("add", rng.randint(1, min(spec.max_operand, spec.max_value - value))))
    if value >= 1:
        choices.append(Operation("sub", rng.randint(1, min(spec.max_operand, value))))
    factors = [f for f in spec.mul_factors if 1 <= value and value * f <= spec.max_value]
    if factors:
        choices.append(Operation("mul", rng.choice(factors)))
    return rng.choice(choices)


def generate_problem(rng: random.Random, level: int, problem_id: str) -> Problem:
    """One problem of the given level, fully determined by the state of `rng`."""
    spec = LEVELS[level]
    name = rng.choice(NAMES)
    items = rng.choice(ITEMS)
    start = rng.randint(1, spec.max_value)
    ops, value = [], start
    for _ in range(rng.randint(spec.min_ops, spec.max_ops)):
        op = _choose_op(rng, value, spec)
        ops.append(op)
        value = apply_op(op.kind, value, op.operand)
    others = [n for n in NAMES if n != name]
    distractors = tuple((rng.choice(others), rng.randint(1, spec.max_operand)) for _ in range(spec.n_distractors))
    text = render_problem_text(name, items, start, ops, distractors, rng)
    return Problem(problem_id, level, name, items, start, tuple(ops), distractors, text)


def generate_problems(seed: int, n_per_level: int, levels=(1, 2, 3, 4), split: str = "train") -> list[Problem]:
    """`n_per_level` problems of each level. Deterministic in (seed, split, level); ids are unique per split."""
    problems = []
    for level in levels:
        rng = random.Random(f"{seed}:{split}:{level}")
        problems += [generate_problem(rng, level, f"{split}-L{level}-{i}") for i in range(n_per_level)]
    return problems


_OPERATION_LINE = {
    "add": re.compile(r"^(?P<ord>[A-Z][a-z]+), (?P<b>\d+) more arrive\.$"),
    "sub": re.compile(r"^(?P<ord>[A-Z][a-z]+), (?P<b>\d+) are given away\.$"),
    "mul": re.compile(r"^(?P<ord>[A-Z][a-z]+), (?P<b>\d+) times as many [a-z]+\.$"),
}
_HAS_LINE = re.compile(r"^(?P<who>[A-Z][a-z]+) has (?P<n>\d+) (?P<items>[a-z]+)\.$")
_QUESTION = re.compile(r"^How many (?P<items>[a-z]+) does (?P<who>[A-Z][a-z]+) have now\?$")


def problem_from_text(text: str, problem_id: str = "", level: int = 0) -> Problem:
    """Rebuild the exact ground truth from a problem's text (what the stepwise datasets store).

    The inverse of `render_problem_text`: the asked-about person's first "has" line is the start value, the
    ordinal lines are the operations in order, other "has" lines are distractors (in text order, which may
    differ from the generator's order; they do not affect the answer). Raises ValueError on text
    that is not a toy problem, naming the line.
    """
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    q = _QUESTION.match(lines[-1]) if lines else None
    if q is None:
        raise ValueError(f"not a toy problem: the last line should ask 'How many ... have now?': {text!r}")
    name, items = q["who"], q["items"]
    start, ops, distractors = None, [], []
    for line in lines[:-1]:
        if (m := _HAS_LINE.match(line)) is not None:
            if m["who"] == name and start is None:
                start = int(m["n"])
            else:
                distractors.append((m["who"], int(m["n"])))
            continue
        for kind, pattern in _OPERATION_LINE.items():
            if (m := pattern.match(line)) is not None:
                if m["ord"] != ORDINALS[len(ops)]:
                    raise ValueError(f"operation out of order in {problem_id or 'problem'}: {line!r}")
                ops.append(Operation(kind, int(m["b"])))
                break
        else:
            raise ValueError(f"unrecognised line in {problem_id or 'problem'}: {line!r}")
    if start is None or not ops:
        raise ValueError(f"not a toy problem (no start value or no operation): {text!r}")
    return Problem(problem_id, level, name, items, start, tuple(ops), tuple(distractors), text)
