"""Unit tests for stepwiser_core.segmentation: the chunk format, its parsers, the exact-reconstruction filter (paper
§3.1, Table 1, §4.1) and the toy segmenter teacher."""

import doctest
import math
import random

import pytest

from stepwiser_core import segmentation
from stepwiser_core.segmentation import (
    DEFAULT_MISTAKE_WEIGHTS,
    MISTAKE_KINDS,
    check_attempt,
    format_chunks,
    parse_chunks,
    parse_chunks_lenient,
    reconstructs,
    segment_attempts,
    select_segmentation,
    steps_per_solution,
    teacher_segment,
)
from stepwiser_core.tokenizer import CHUNK_CLOSE, CHUNK_OPEN
from stepwiser_core.world.problems import generate_problems
from stepwiser_core.world.segment import blankline_steps, logical_steps
from stepwiser_core.world.solutions import render_solution

# A teacher-style solution: two operations (one with a blank line between explanation and equation, one with a
# single newline) and the answer. Logical steps: 3; blank-line pieces: 4.
TEXT = "First, 3 more arrive.\n\n5+3=8\n\nSecond, 2 times as many books.\n8*2=16\n\nThe answer is \\boxed{16}."
STEPS = ["First, 3 more arrive.\n\n5+3=8", "Second, 2 times as many books.\n8*2=16", "The answer is \\boxed{16}."]


@pytest.fixture(scope="module")
def solutions():
    rng = random.Random(0)
    return [render_solution(p, rng, error_rate=0.1) for p in generate_problems(0, 10)]


def test_doctests():
    assert doctest.testmod(segmentation).failed == 0


def test_tags_are_the_tokenizer_tags():
    assert (CHUNK_OPEN, CHUNK_CLOSE) == ("<chunk>", "</chunk>")


# ----------------------------------------------------------------------------------------------------------------
# format_chunks / parse_chunks / parse_chunks_lenient
# ----------------------------------------------------------------------------------------------------------------


def test_format_chunks_exact_convention():
    # each chunk verbatim inside the tags, one "\n" between a close and the next open, nothing around
    assert format_chunks(["a\n\nb", "c"]) == "<chunk>a\n\nb</chunk>\n<chunk>c</chunk>"
    assert format_chunks(["x"]) == "<chunk>x</chunk>"


@pytest.mark.parametrize("bad", [[], ["a<chunk>b"], ["ok", "a</chunk>"]])
def test_format_chunks_rejects_what_would_not_parse_back(bad):
    with pytest.raises(ValueError):
        format_chunks(bad)


def test_parse_round_trips_format():
    rng = random.Random(1)
    alphabet = "ab1=\n "
    for _ in range(200):
        chunks = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(1, 5))]
        assert parse_chunks(format_chunks(chunks)) == chunks


def test_parse_chunks_accepts_whitespace_around_and_between_tags():
    assert parse_chunks("\n <chunk>a</chunk>\n\n \t<chunk>b\nc</chunk>\n") == ["a", "b\nc"]
    assert parse_chunks("<chunk>a</chunk><chunk>b</chunk>") == ["a", "b"]  # no separator at all is fine too
    assert parse_chunks("<chunk></chunk>") == [""]  # well-formed tags; the reconstruction check rejects it


@pytest.mark.parametrize(
    "bad",
    [
        "",  # no chunk
        "just text",  # no tags
        "<chunk>a",  # unclosed
        "<chunk>a</chunk>\n<chunk>b",  # last one unclosed
        "<chunk>a\n<chunk>b</chunk>",  # nested / missing close
        "a</chunk>",  # missing open
        "<chunk>a</chunk></chunk>",  # stray close
        "Here is the segmented text:\n<chunk>a</chunk>",  # preamble
        "<chunk>a</chunk>\nb\n<chunk>c</chunk>",  # text between chunks
        "<chunk>a</chunk>\nDone.",  # text after
    ],
)
def test_parse_chunks_rejects_malformed_text(bad):
    assert parse_chunks(bad) is None


def test_lenient_equals_strict_on_well_formed_text():
    for tagged in ["<chunk>a</chunk>\n<chunk>b\n\nc</chunk>", " <chunk>x</chunk>\n\n<chunk>y</chunk>\n"]:
        assert parse_chunks_lenient(tagged) == parse_chunks(tagged)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<chunk>a</chunk>\n<chunk>b", ["a", "b"]),  # truncated generation: the open chunk is the last one
        ("<chunk>a</chunk>\n<chunk>", ["a"]),  # truncated right after an open tag: nothing to keep
        ("<chunk>a</chunk>\nloose\n<chunk>c</chunk>", ["a", "loose", "c"]),  # outside text: its own chunk
        ("intro\n<chunk>a</chunk>", ["intro", "a"]),
        ("<chunk>a\n<chunk>b</chunk>", ["a\n", "b"]),  # a forgotten close: the next open closes it
        ("<chunk>a</chunk></chunk>\n<chunk>b</chunk>", ["a", "b"]),  # stray close ignored
        ("<chunk> </chunk>\n<chunk>b</chunk>", ["b"]),  # blank chunk dropped
        ("no tags at all", ["no tags at all"]),
        ("", []),
    ],
)
def test_parse_chunks_lenient_cases(text, expected):
    assert parse_chunks_lenient(text) == expected


def test_parse_chunks_lenient_never_raises():
    rng = random.Random(2)
    pieces = ["<chunk>", "</chunk>", "a", "\n", "\n\n", " ", "<chunk", "chunk>", "</"]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        out = parse_chunks_lenient(text)
        assert all(isinstance(c, str) and c.strip() for c in out)


# ----------------------------------------------------------------------------------------------------------------
# reconstructs
# ----------------------------------------------------------------------------------------------------------------


def test_reconstructs_cuts_at_blank_lines_and_line_breaks():
    assert reconstructs(TEXT, STEPS)  # cuts at "\n\n" only
    # a cut at the "\n\n" inside step 1 and at the "\n" inside step 2 is also a valid (finer) cut
    assert reconstructs(TEXT, ["First, 3 more arrive.", "5+3=8", "Second, 2 times as many books.", "8*2=16",
                               "The answer is \\boxed{16}."])
    assert reconstructs(TEXT, [TEXT])  # one chunk, the whole text
    assert reconstructs(TEXT, ["\n\n".join(STEPS[:2]), STEPS[2]])  # a merge keeps the text


@pytest.mark.parametrize(
    "chunks",
    [
        [STEPS[0], STEPS[1]],  # the answer dropped
        [STEPS[0], STEPS[2]],  # a middle step dropped
        [STEPS[0], STEPS[0], STEPS[1], STEPS[2]],  # duplicated
        [STEPS[0], STEPS[1].replace("8*2", "8*3"), STEPS[2]],  # a digit changed
        [STEPS[0].replace("arrive", "come"), STEPS[1], STEPS[2]],  # a word paraphrased
        ["Step 1: " + STEPS[0], STEPS[1], STEPS[2]],  # a title added
        [STEPS[0], STEPS[1], STEPS[2] + "\n"],  # a trailing newline added
        [STEPS[0] + "\n", STEPS[1], STEPS[2]],  # separator half inside a chunk (ambiguous cut)
        [STEPS[0], "", STEPS[1], STEPS[2]],  # an empty chunk
        [STEPS[0], STEPS[2], STEPS[1]],  # reordered
        ["First, 3 more arrive.", "\n5+3=8", STEPS[1], STEPS[2]],  # a chunk starting with a newline
        [],  # no chunks
    ],
)
def test_reconstructs_rejects_any_change(chunks):
    assert not reconstructs(TEXT, chunks)


def test_reconstructs_rejects_three_newlines_and_cuts_inside_a_line():
    assert not reconstructs("a\n\n\nb", ["a", "b"])  # separators are "\n" or "\n\n" only
    assert not reconstructs("ab", ["a", "b"])  # a cut needs a line break
    assert not reconstructs("a b", ["a", "b"])  # …not a space
    assert reconstructs("a\nb", ["a", "b"])


def test_logical_and_blankline_steps_of_teacher_solutions_reconstruct(solutions):
    for sol in solutions:
        assert reconstructs(sol.text, list(sol.steps))
        assert reconstructs(sol.text, logical_steps(sol.text))
        assert reconstructs(sol.text, blankline_steps(sol.text))


# ----------------------------------------------------------------------------------------------------------------
# teacher_segment, segment_attempts, select_segmentation
# ----------------------------------------------------------------------------------------------------------------


def test_teacher_without_mistakes_gives_the_logical_steps(solutions):
    rng = random.Random(3)
    assert teacher_segment(TEXT, rng, error_rate=0.0) == format_chunks(STEPS)
    for sol in solutions:
        assert parse_chunks(teacher_segment(sol.text, rng, 0.0)) == list(sol.steps)


@pytest.mark.parametrize("tagged", [f"x {CHUNK_OPEN}y", f"{CHUNK_OPEN}a{CHUNK_CLOSE}", f"a\n\nb{CHUNK_CLOSE}"])
def test_a_response_holding_a_chunk_tag_gets_a_failed_attempt_not_an_error(tagged):
    # Found on a GPU: the smoke tier's base policy sampled the tag token itself, and 01 stopped with a ValueError.
    for error_rate in (0.0, 1.0):
        attempts = segment_attempts(TEXT.replace("\n\n", tagged, 1), random.Random(0), 4, error_rate)
        assert all(check_attempt(TEXT.replace("\n\n", tagged, 1), a) is None for a in attempts)
    assert select_segmentation(tagged, [teacher_segment(tagged, random.Random(0), 0.0)]) is None


def _forced(text, kind, seed=0):
    return teacher_segment(text, random.Random(seed), error_rate=1.0, mistake_weights={kind: 1.0})


@pytest.mark.parametrize("seed", range(5))
def test_split_and_merge_keep_the_text_but_change_the_cut(seed):
    split = parse_chunks(_forced(TEXT, "split_step", seed))
    merge = parse_chunks(_forced(TEXT, "merge_steps", seed))
    assert reconstructs(TEXT, split) and reconstructs(TEXT, merge)  # pass the paper's filter …
    assert len(split) == len(STEPS) + 1 and len(merge) == len(STEPS) - 1  # … yet violate "one purpose per chunk"


@pytest.mark.parametrize("kind", ["drop_line", "paraphrase", "change_digit", "add_title"])
@pytest.mark.parametrize("seed", range(5))
def test_text_mistakes_are_well_formed_but_do_not_reconstruct(kind, seed):
    out = _forced(TEXT, kind, seed)
    assert parse_chunks(out) is not None
    assert check_attempt(TEXT, out) is None


@pytest.mark.parametrize("kind", ["unclosed_tag", "missing_tag", "preamble"])
@pytest.mark.parametrize("seed", range(5))
def test_tag_mistakes_are_malformed(kind, seed):
    out = _forced(TEXT, kind, seed)
    assert parse_chunks(out) is None
    assert parse_chunks_lenient(out)  # a lenient reader still gets chunks out of it


def test_add_title_titles_every_chunk():
    assert parse_chunks(_forced(TEXT, "add_title")) == [f"Step {k}: {c}" for k, c in enumerate(STEPS, 1)]


def test_inapplicable_mistake_falls_back_to_the_correct_segmentation():
    # one line, one chunk: nothing to merge, nothing to split
    text = "The answer is \\boxed{7}."
    assert _forced(text, "merge_steps") == format_chunks([text])
    assert _forced(text, "split_step") == format_chunks([text])
    assert _forced(text, "drop_line") == format_chunks([text])  # dropping the only line would leave nothing


@pytest.mark.parametrize("kind", MISTAKE_KINDS)
def test_every_mistake_works_on_a_one_line_text(kind):
    out = _forced("The answer is \\boxed{7}.", kind)
    assert isinstance(out, str) and parse_chunks_lenient(out)


def test_default_mistake_mix_covers_every_kind():
    assert set(DEFAULT_MISTAKE_WEIGHTS) == set(MISTAKE_KINDS)
    assert math.isclose(sum(DEFAULT_MISTAKE_WEIGHTS.values()), 1.0)


@pytest.mark.parametrize(("kwargs", "match"), [({"error_rate": 1.5}, "error_rate"),
                                               ({"error_rate": 0.5, "mistake_weights": {"typo": 1.0}}, "unknown")])
def test_teacher_validates_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        teacher_segment(TEXT, random.Random(0), **kwargs)


def test_segment_attempts_count_and_seed():
    a = segment_attempts(TEXT, random.Random(7), 8, 0.5)
    assert len(a) == 8 and a == segment_attempts(TEXT, random.Random(7), 8, 0.5)
    with pytest.raises(ValueError):
        segment_attempts(TEXT, random.Random(7), 0, 0.5)


def test_select_segmentation_majority_vote_and_ties():
    good, split = format_chunks(STEPS), _forced(TEXT, "split_step")
    bad = _forced(TEXT, "change_digit")
    # valid: split ×2, good ×1 → the majority (split) wins even though it is the wrong cut
    assert select_segmentation(TEXT, [split, good, split]) == parse_chunks(split)
    # invalid attempts do not vote, however many: bad ×3 ignored, good ×1 wins
    assert select_segmentation(TEXT, [bad, bad, bad, good]) == STEPS
    # tie 1–1: the earliest valid one
    assert select_segmentation(TEXT, [bad, split, good]) == parse_chunks(split)
    assert select_segmentation(TEXT, [good, split]) == STEPS
    # nothing valid
    assert select_segmentation(TEXT, [bad, _forced(TEXT, "preamble")]) is None
    assert select_segmentation(TEXT, []) is None


def test_every_kept_segmentation_reconstructs_its_source(solutions):
    # the acceptance criterion of issue 3: run the whole teacher → filter → selection on many solutions
    rng = random.Random(11)
    n_kept = n_correct = 0
    for sol in solutions:
        chosen = select_segmentation(sol.text, segment_attempts(sol.text, rng, 8, error_rate=0.5))
        if chosen is not None:
            n_kept += 1
            assert reconstructs(sol.text, chosen)
            n_correct += chosen == list(sol.steps)
    # at error rate 0.5 the correct cut still wins the vote almost always
    assert n_kept == len(solutions) and n_correct >= 0.9 * len(solutions)


def test_check_attempt_returns_the_chunks_or_none():
    assert check_attempt(TEXT, format_chunks(STEPS)) == STEPS
    assert check_attempt(TEXT, format_chunks(STEPS[:2])) is None


# ----------------------------------------------------------------------------------------------------------------
# statistics
# ----------------------------------------------------------------------------------------------------------------


def test_steps_per_solution_by_hand():
    # TEXT: blank-line pieces = 4 ("First…", "5+3=8", "Second…\n8*2=16", answer); logical steps = 3
    assert len(blankline_steps(TEXT)) == 4 and logical_steps(TEXT) == STEPS
    # (4 + 3) / 2 = 3.5
    assert steps_per_solution([blankline_steps(TEXT), STEPS]) == 3.5
    assert math.isnan(steps_per_solution([]))
