"""Self-segmentation ("Chunks-of-Thought"): the chunk format, its parsers, the exact-reconstruction filter and a
toy segmenter teacher (StepWiser, arXiv 2508.19229, §3.1, Table 1, §4.1 "Self-segmentation fine-tuning", Table 4).

The paper prompts Llama-3.1-70B-it with the Table 1 rules to wrap each logically complete step of a correct policy
response in `<chunk>…</chunk>`, makes 8 segmentations per response, keeps only those that follow the format and
reconstruct the response exactly, and fine-tunes the policy on the result so it writes the tags itself. Here
`teacher_segment` stands in for the 70B segmenter on the toy world (`reference/paper.md` §1).

**The chunk format** (what the chunk policy is trained to write; `format_chunks`):

    <chunk>{chunk 1}</chunk>\\n<chunk>{chunk 2}</chunk>\\n…<chunk>{chunk k}</chunk>

Every chunk is wrapped in `CHUNK_OPEN` / `CHUNK_CLOSE` with its text verbatim (inner newlines included), and
consecutive chunks are joined by exactly one "\\n"; nothing precedes the first tag or follows the last. Parsing
(`parse_chunks`) accepts any whitespace between, before and after the tags, so a model that writes "\\n\\n" between
chunks is still well formed.

**The reconstruction rule** (`reconstructs`; the paper's "Preserve all original text and newlines exactly"). A
segmentation may cut the text only at a paragraph break "\\n\\n" or a line break "\\n"; the break itself belongs
to no chunk. So chunks c_1 … c_k reconstruct `original` iff

    original == c_1 + s_1 + c_2 + s_2 + … + s_{k-1} + c_k,   each s_j ∈ {"\\n", "\\n\\n"},

with every chunk non-blank and neither starting nor ending with "\\n" (a chunk that did would have swallowed part
of a separator, which makes the cut ambiguous). Any altered, dropped, duplicated or added character fails. The
tagged format does not record which separator a cut replaced; the chunks themselves are exact.

**Which of the valid attempts is kept** is NOT SPECIFIED by the paper. `select_segmentation` takes the most
frequent valid segmentation among the attempts (majority vote; ties go to the earliest), which also drops most of
the segmentations that are valid text but violate Table 1's principles (a split or merged step), since a teacher
that is right more often than not agrees with itself on the correct one.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from .tokenizer import CHUNK_CLOSE, CHUNK_OPEN
from .world.segment import logical_steps

__all__ = [
    "CHUNK_SEPARATOR",
    "DEFAULT_MISTAKE_WEIGHTS",
    "MISTAKE_KINDS",
    "check_attempt",
    "format_chunks",
    "parse_chunks",
    "parse_chunks_lenient",
    "reconstructs",
    "segment_attempts",
    "select_segmentation",
    "steps_per_solution",
    "teacher_segment",
]

CHUNK_SEPARATOR = "\n"  # between "</chunk>" and the next "<chunk>" in `format_chunks`
_TAG = re.compile(f"({re.escape(CHUNK_OPEN)}|{re.escape(CHUNK_CLOSE)})")
_NEWLINE_RUN = re.compile(r"\n+")

# ---------------------------------------------------------------------------------------------------------------
# Format and parsing
# ---------------------------------------------------------------------------------------------------------------


def format_chunks(chunks: Sequence[str]) -> str:
    """Wrap each chunk in `<chunk>…</chunk>` and join them with one "\\n" (the format the chunk policy writes).

    Raises ValueError for an empty list or a chunk that contains a tag, since neither would parse back.

    Example:
        >>> format_chunks(["a\\n\\nb", "c"])
        '<chunk>a\\n\\nb</chunk>\\n<chunk>c</chunk>'
    """
    if not chunks:
        raise ValueError("a segmentation needs at least one chunk")
    for i, c in enumerate(chunks):
        if CHUNK_OPEN in c or CHUNK_CLOSE in c:
            raise ValueError(f"chunk {i} contains a chunk tag and would not parse back: {c!r}")
    return CHUNK_SEPARATOR.join(f"{CHUNK_OPEN}{c}{CHUNK_CLOSE}" for c in chunks)


def parse_chunks(tagged: str) -> list[str] | None:
    """The chunk texts of a well-formed tagged text, verbatim, or None when it is not well formed.

    Well formed: one or more `<chunk>…</chunk>` pairs, not nested, every tag balanced, and nothing but whitespace
    before, between and after them (the paper's "Output only the tagged content: no extra text, titles"). An empty
    pair `<chunk></chunk>` is well formed here and yields ""; `reconstructs` rejects it.

    Example:
        >>> parse_chunks("<chunk>a</chunk>\\n<chunk>b\\nc</chunk>")
        ['a', 'b\\nc']
        >>> parse_chunks("Here you go:\\n<chunk>a</chunk>") is None
        True
    """
    chunks: list[str] = []
    inside, current = False, ""
    for piece in _TAG.split(tagged):
        if piece == CHUNK_OPEN:
            if inside:
                return None  # nested, or the previous chunk was never closed
            inside, current = True, ""
        elif piece == CHUNK_CLOSE:
            if not inside:
                return None  # a close without an open
            chunks.append(current)
            inside = False
        elif inside:
            current = piece
        elif piece.strip():
            return None  # text outside the tags
    if inside or not chunks:
        return None  # unclosed last chunk, or no chunk at all
    return chunks


def parse_chunks_lenient(text: str) -> list[str]:
    """Best-effort chunks of a model's output; never raises.

    - a `<chunk>…</chunk>` pair gives its text verbatim (so on well-formed text with no blank chunk this equals
      `parse_chunks`);
    - a `<chunk>` met inside an open chunk closes it (a forgotten `</chunk>`), and a trailing unclosed `<chunk>…`
      (a generation cut off by the token limit) is the last chunk;
    - non-blank text outside the tags is a chunk of its own, with its surrounding newlines (separators) removed;
    - a stray `</chunk>` is ignored; blank chunks are dropped, as they carry no step.

    Example:
        >>> parse_chunks_lenient("<chunk>a</chunk>\\nb\\n<chunk>c")
        ['a', 'b', 'c']
    """
    chunks: list[str] = []
    inside, current = False, ""

    def emit(piece: str) -> None:
        if piece.strip():
            chunks.append(piece)

    for piece in _TAG.split(text):
        if piece == CHUNK_OPEN:
            if inside:
                emit(current)
            inside, current = True, ""
        elif piece == CHUNK_CLOSE:
            if inside:
                emit(current)
                inside = False
        elif inside:
            current = piece
        else:
            emit(piece.strip("\n"))
    if inside:
        emit(current)
    return chunks


# ---------------------------------------------------------------------------------------------------------------
# The exact-reconstruction filter and the choice among attempts
# ---------------------------------------------------------------------------------------------------------------


def reconstructs(original: str, chunks: Sequence[str]) -> bool:
    """Whether `chunks`, joined by the separators that were cut ("\\n" or "\\n\\n"), give `original` exactly.

    The rule is in the module docstring: walk `original`; each chunk must match at the current position and be
    followed by a run of one or two newlines (the separator), the last chunk by the end of the text. A chunk may
    not be blank or begin or end with "\\n", so the separator after a chunk is the whole newline run there.

    Example:
        >>> reconstructs("a\\n\\nb\\nc", ["a", "b\\nc"]), reconstructs("a\\n\\nb\\nc", ["a", "b", "c"])
        (True, True)
        >>> reconstructs("a\\n\\nb", ["a", "B"]), reconstructs("a\\n\\nb", ["a"])  # altered, dropped
        (False, False)
        >>> reconstructs("a\\n\\n\\nb", ["a", "b"])  # three newlines are no separator
        False
    """
    if not chunks:
        return False
    pos, last = 0, len(chunks) - 1
    for i, chunk in enumerate(chunks):
        if not chunk.strip() or chunk.startswith("\n") or chunk.endswith("\n"):
            return False
        if not original.startswith(chunk, pos):
            return False
        pos += len(chunk)
        if i == last:
            return pos == len(original)
        run = _NEWLINE_RUN.match(original, pos)
        if run is None or len(run.group()) > 2:
            return False
        pos = run.end()
    return False  # unreachable: the loop returns at the last chunk


def check_attempt(original: str, tagged: str) -> list[str] | None:
    """The chunks of one segmentation attempt if it is well formed and reconstructs `original`, else None.

    This is the paper's filter (§4.1: keep segmentations that "reconstruct the original response exactly" and follow
    the format); the share of attempts that pass is the `reconstruction_exact_rate` of notebook 01.
    """
    chunks = parse_chunks(tagged)
    if chunks is None or not reconstructs(original, chunks):
        return None
    return chunks


def select_segmentation(text: str, attempts: Sequence[str]) -> list[str] | None:
    """Keep the attempts that pass `check_attempt`; return the most frequent of them (ties: the earliest), or None.

    The paper does not say which of several valid segmentations is kept (NOT SPECIFIED); a majority vote is our
    choice: it is what self-consistency does for an LLM's answers, and it filters the valid-but-wrong segmentations
    (a split or merged step) that the reconstruction filter cannot see, whenever they are in the minority.
    """
    valid = [tuple(c) for c in (check_attempt(text, a) for a in attempts) if c is not None]
    if not valid:
        return None
    counts = Counter(valid)
    best = max(counts.values())
    # Counter keeps first-insertion order, so the first segmentation reaching the top count is the earliest.
    return list(next(seg for seg, n in counts.items() if n == best))


# ---------------------------------------------------------------------------------------------------------------
# The toy segmenter teacher
# ---------------------------------------------------------------------------------------------------------------

# Mistakes of the kinds an LLM segmenter makes; which ones survive the filter:
#   split_step      one logical step cut between its explanation and its equation  → valid text, kept (wrong purpose)
#   merge_steps     two adjacent logical steps in one chunk                         → valid text, kept (wrong purpose)
#   drop_line       one non-empty line left out                                     → does not reconstruct
#   paraphrase      one phrase reworded ("more arrive" → "more come")               → does not reconstruct
#   change_digit    one digit copied wrong                                          → does not reconstruct
#   add_title       every chunk prefixed with "Step k: "                            → does not reconstruct
#   unclosed_tag    one "</chunk>" missing                                          → malformed
#   missing_tag     one "<chunk>" missing                                           → malformed
#   preamble        "Here is the segmented text:" before the tags                   → malformed
MISTAKE_KINDS = ("split_step", "merge_steps", "drop_line", "paraphrase", "change_digit", "add_title",
                 "unclosed_tag", "missing_tag", "preamble")
# Defaults (our choice; the paper reports no segmenter error statistics): a bit under half of the mistakes keep the
# text valid (split/merge), the rest alter text or tags. Weights are relative; only applicable kinds are drawn.
DEFAULT_MISTAKE_WEIGHTS: dict[str, float] = {
    "split_step": 0.25, "merge_steps": 0.20,
    "drop_line": 0.10, "paraphrase": 0.10, "change_digit": 0.10, "add_title": 0.10,
    "unclosed_tag": 0.05, "missing_tag": 0.05, "preamble": 0.05,
}
_PARAPHRASES = {
    "more arrive": "more come", "are given away": "are removed", "times as many": "times more",
    "The answer is": "So the answer is", "First,": "Firstly,", "Second,": "Secondly,",
}
_PREAMBLE = "Here is the segmented text:\n"


def _logical_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each of `logical_steps(text)` in `text`: the correct cut points, as offsets."""
    spans, pos = [], 0
    for step in logical_steps(text):
        start = text.find(step, pos)
        if start < 0:  # logical_steps keeps steps verbatim, so this would be a bug there
            raise RuntimeError(f"logical step not found verbatim in the text: {step!r}")
        spans.append((start, start + len(step)))
        pos = start + len(step)
    return spans


def _split_points(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(span index, cut start, cut end) for every line break inside a span: where a step can be split in two."""
    # `finditer(text, s, e)` scans text[s:e] but reports offsets into the whole text.
    return [(i, m.start(), m.end()) for i, (s, e) in enumerate(spans)
            for m in _NEWLINE_RUN.finditer(text, s, e)]


def _applicable(kind: str, text: str, spans: Sequence[tuple[int, int]]) -> bool:
    chunk_texts = [text[s:e] for s, e in spans]
    if kind == "split_step":
        return bool(_split_points(text, spans))
    if kind == "merge_steps":
        return len(spans) >= 2
    if kind == "paraphrase":
        return any(p in c for c in chunk_texts for p in _PARAPHRASES)
    if kind == "change_digit":
        return any(ch.isdigit() for c in chunk_texts for ch in c)
    if kind == "drop_line":  # leave at least one line, or there would be no chunk left to output
        return sum(1 for c in chunk_texts for line in c.split("\n") if line.strip()) >= 2
    return True  # add_title and the tag mistakes apply to any non-empty segmentation


def _mistake_on_chunks(kind: str, chunks: list[str], rng: random.Random) -> list[str]:
    """Apply a text-altering mistake to the chunk texts; the result no longer reconstructs the original."""
    if kind == "drop_line":
        lines = [(i, j) for i, c in enumerate(chunks) for j, line in enumerate(c.split("\n")) if line.strip()]
        i, j = rng.choice(lines)
        c_lines = chunks[i].split("\n")
        kept = "\n".join(c_lines[:j] + c_lines[j + 1:]).strip("\n")
        return [*chunks[:i], *([kept] if kept.strip() else []), *chunks[i + 1:]]
    if kind == "paraphrase":
        where = [(i, p) for i, c in enumerate(chunks) for p in _PARAPHRASES if p in c]
        i, p = rng.choice(where)
        return [*chunks[:i], chunks[i].replace(p, _PARAPHRASES[p], 1), *chunks[i + 1:]]
    if kind == "change_digit":
        where = [(i, j) for i, c in enumerate(chunks) for j, ch in enumerate(c) if ch.isdigit()]
        i, j = rng.choice(where)
        new = rng.choice([d for d in "0123456789" if d != chunks[i][j]])
        return [*chunks[:i], chunks[i][:j] + new + chunks[i][j + 1:], *chunks[i + 1:]]
    if kind == "add_title":
        return [f"Step {k}: {c}" for k, c in enumerate(chunks, start=1)]
    raise ValueError(f"not a text mistake: {kind!r}")


def _mistake_on_tags(kind: str, tagged: str, rng: random.Random) -> str:
    """Apply a format mistake to the tagged output; the result no longer parses."""
    if kind == "preamble":
        return _PREAMBLE + tagged
    tag = CHUNK_CLOSE if kind == "unclosed_tag" else CHUNK_OPEN
    where = [m.start() for m in re.finditer(re.escape(tag), tagged)]
    at = rng.choice(where)
    return tagged[:at] + tagged[at + len(tag):]


def teacher_segment(text: str, rng: random.Random, error_rate: float,
                    mistake_weights: Mapping[str, float] | None = None) -> str:
    """One segmentation attempt by the toy teacher: the tagged text, as an LLM segmenter would output it.

    The correct segmentation follows Table 1 on the toy world: one chunk per operation (its explanation line and
    its equation: one purpose, one logical flow) and the final answer as its own chunk, i.e. `logical_steps`.
    With probability `error_rate` the attempt makes one mistake, drawn from `mistake_weights` (see
    `DEFAULT_MISTAKE_WEIGHTS` and `MISTAKE_KINDS`) among the kinds that apply to this text.

    Args:
        text (`str`): the response to segment.
        rng (`random.Random`): the source of randomness (the only one used).
        error_rate (`float`): probability in [0, 1] that this attempt contains a mistake.
        mistake_weights (`Mapping[str, float]`, *optional*): relative weight of each mistake kind; defaults to
            `DEFAULT_MISTAKE_WEIGHTS`. Kinds left out are never made.

    Returns:
        `str`: the tagged text (`format_chunks` format, unless a tag mistake broke it).
    """
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError(f"error_rate must be in [0, 1], got {error_rate!r}")
    weights = dict(DEFAULT_MISTAKE_WEIGHTS if mistake_weights is None else mistake_weights)
    unknown = sorted(set(weights) - set(MISTAKE_KINDS))
    if unknown or any(w < 0 for w in weights.values()):
        raise ValueError(f"mistake_weights: unknown kinds {unknown} or a negative weight in {weights}")
    if CHUNK_OPEN in text or CHUNK_CLOSE in text:
        # A weak policy can sample the tag tokens themselves (the smoke tier's did, trained in bf16 on a GPU). No
        # wrapping of such a response parses back to it, so the attempt is the response as it is, which
        # `check_attempt` always rejects: the response gets no segmentation instead of stopping the stage.
        return text
    spans = _logical_spans(text)
    if not spans:  # nothing to segment (blank text): the teacher returns a single, blank chunk
        return format_chunks([text])
    kind = None
    if rng.random() < error_rate:
        kinds = [k for k, w in weights.items() if w > 0 and _applicable(k, text, spans)]
        if kinds:
            kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
    if kind == "split_step":
        i, cut_start, cut_end = rng.choice(_split_points(text, spans))
        s, e = spans[i]
        spans = [*spans[:i], (s, cut_start), (cut_end, e), *spans[i + 1:]]
    elif kind == "merge_steps":
        i = rng.randrange(len(spans) - 1)
        spans = [*spans[:i], (spans[i][0], spans[i + 1][1]), *spans[i + 2:]]
    chunks = [text[s:e] for s, e in spans]
    if kind in ("drop_line", "paraphrase", "change_digit", "add_title"):
        chunks = _mistake_on_chunks(kind, chunks, rng)
    tagged = format_chunks(chunks)
    if kind in ("unclosed_tag", "missing_tag", "preamble"):
        tagged = _mistake_on_tags(kind, tagged, rng)
    return tagged


def segment_attempts(text: str, rng: random.Random, n_attempts: int, error_rate: float,
                     mistake_weights: Mapping[str, float] | None = None) -> list[str]:
    """`n_attempts` independent `teacher_segment` attempts (the paper makes 8 per response, §4.1)."""
    if n_attempts < 1:
        raise ValueError(f"n_attempts must be >= 1, got {n_attempts!r}")
    return [teacher_segment(text, rng, error_rate, mistake_weights) for _ in range(n_attempts)]


# ---------------------------------------------------------------------------------------------------------------
# Statistics (Table 4 analog)
# ---------------------------------------------------------------------------------------------------------------


def steps_per_solution(step_lists: Sequence[Sequence[str]]) -> float:
    """Mean number of steps per solution (Table 4 "# Steps"); NaN for no solutions.

    Example:
        >>> steps_per_solution([["a", "b"], ["c", "d", "e", "f"]])
        3.0
    """
    if not step_lists:
        return math.nan
    return sum(len(s) for s in step_lists) / len(step_lists)
