"""MATH500 in its real schema (HuggingFaceH4/MATH-500's test.jsonl), and as 01's paper-tier evaluation set."""
import json

import pytest

from stepwiser_core import chunk_policy
from stepwiser_core.math500 import load_math500
from stepwiser_core.verify import MathVerifyVerifier

ROWS = [
    {"problem": "Convert the point $(0,3)$ in rectangular coordinates to polar coordinates.",
     "solution": "... so the polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$",
     "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2,
     "unique_id": "test/precalculus/807.json"},
    {"problem": "What is $\\frac{1}{3} + \\frac{4}{3}$?", "solution": "It is $\\boxed{\\frac{5}{3}}$.",
     "answer": "\\frac{5}{3}", "subject": "Prealgebra", "level": "Level 1", "unique_id": "test/prealgebra/1.json"},
]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_loads_the_snapshot_folder_or_its_file_with_ids_answers_subjects_and_levels(tmp_path):
    write_jsonl(tmp_path / "MATH-500" / "test.jsonl", ROWS)
    problems = load_math500(tmp_path / "MATH-500")
    assert load_math500(tmp_path / "MATH-500" / "test.jsonl") == problems
    assert [(p.id, p.answer, p.source, p.level) for p in problems] == [
        ("test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)", "Precalculus", 2),
        ("test/prealgebra/1.json", "\\frac{5}{3}", "Prealgebra", 1)]  # "Level 1", as MATH itself writes it
    verifier = MathVerifyVerifier()
    assert verifier.is_correct("so $\\boxed{\\frac{5}{3}}$", problems[1].answer)
    assert verifier.is_correct("$\\boxed{(3, \\frac{\\pi}{2})}$", problems[0].answer)
    assert not verifier.is_correct("$\\boxed{\\frac{4}{3}}$", problems[1].answer)


@pytest.mark.parametrize("change, message", [
    (lambda rows: rows + [rows[0]], "duplicate unique_id"),
    (lambda rows: [{**rows[0], "answer": " "}], "empty answer"),
    (lambda rows: [{k: v for k, v in r.items() if k != "answer"} for r in rows], r"missing \['answer'\]"),
])
def test_malformed_files_are_clear_errors(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_math500(write_jsonl(tmp_path / "test.jsonl", change(ROWS)))


def test_01_evaluates_on_math500_when_it_is_named(tmp_path):
    path = write_jsonl(tmp_path / "MATH-500" / "test.jsonl", ROWS)
    held = chunk_policy.evaluation_problems("numina", tmp_path, 0, MathVerifyVerifier(), 1000, math500_path=str(path))
    assert [p.id for p in held] == ["test/precalculus/807.json", "test/prealgebra/1.json"]
