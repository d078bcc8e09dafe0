"""NuminaMath-CoT prompts: read in the dataset's real schema and layouts, deduplicated, filtered by Math-Verify."""
import json

import datasets
import pytest

from stepwiser_core.numina import (HELDOUT_SHARE, MathProblem, heldout_prompts, in_heldout, normalize_problem,
                                   read_numina, reference_answer, select_prompts)
from stepwiser_core.verify import MathVerifyVerifier


def row(problem: str, solution: str, source: str = "cn_k12") -> dict:
    """A row in NuminaMath-CoT's schema: source, problem, solution, and the chat `messages` it was built from."""
    return {"source": source, "problem": problem, "solution": solution,
            "messages": [{"content": problem, "role": "user"}, {"content": solution, "role": "assistant"}]}


ROWS = [
    row("What is $1/2 + 0$?", "Adding zero changes nothing, so the sum is $\\boxed{\\frac{1}{2}}$."),
    row("What is  $1/2 + 0$?\n", "Same problem, other spacing: $\\boxed{\\frac{1}{2}}$."),  # a duplicate
    row("Prove that $n^2 \\ge 0$.", "A square is never negative.", "olympiads"),  # a proof: no boxed answer
    row("Name the empty word.", "It is $\\boxed{\\text{}}$.", "synthetic_math"),  # boxed, but nothing to verify
    *[row(f"Compute ${k} \\times 3$.", f"We get $\\boxed{{{3 * k}}}$.", "gsm8k") for k in range(2, 12)],
]


def write_snapshot(root, rows, train_files=2):
    """The hub repository's layout: data/train-0000k-of-0000n.parquet, data/test-00000-of-00001.parquet."""
    (root / "data").mkdir(parents=True)
    step = -(-len(rows) // train_files)
    for k in range(train_files):
        datasets.Dataset.from_list(rows[k * step:(k + 1) * step]).to_parquet(
            str(root / "data" / f"train-{k:05d}-of-{train_files:05d}.parquet"))
    datasets.Dataset.from_list(rows[:3]).to_parquet(str(root / "data" / "test-00000-of-00001.parquet"))
    return root


def test_reads_a_snapshot_of_the_hub_repository_by_split(tmp_path):
    root = write_snapshot(tmp_path / "NuminaMath-CoT", ROWS)
    train = read_numina(root)
    assert len(train) == len(ROWS) and train[0]["problem"] == ROWS[0]["problem"]
    assert train[0]["messages"][1]["role"] == "assistant"
    assert len(read_numina(root, split="test")) == 3


def test_reads_saved_datasets_single_files_and_json_lines(tmp_path):
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:5])}).save_to_disk(str(tmp_path / "dd"))
    assert len(read_numina(tmp_path / "dd")) == 5
    with pytest.raises(ValueError, match="no split 'test'"):
        read_numina(tmp_path / "dd", split="test")
    datasets.Dataset.from_list(ROWS[:4]).save_to_disk(str(tmp_path / "ds"))
    assert len(read_numina(tmp_path / "ds")) == 4
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:6]))
    assert read_numina(tmp_path / "rows.jsonl")[5]["problem"] == ROWS[5]["problem"]


def test_bad_locations_and_schemas_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        read_numina(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no NuminaMath data"):
        read_numina(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="no NuminaMath data"):
        read_numina(tmp_path / "notes.txt")
    (tmp_path / "wrong.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "2"}) + "\n")
    with pytest.raises(ValueError, match=r"missing \['problem', 'solution'\]"):
        read_numina(tmp_path / "wrong.jsonl")


def test_the_reference_answer_is_the_last_complete_box_with_nested_braces():
    assert reference_answer("first $\\boxed{1}$, then $\\boxed{\\frac{\\sqrt{3}}{2}}$") == "\\frac{\\sqrt{3}}{2}"
    assert reference_answer("no box") is None and reference_answer("empty \\boxed{ }") is None
    assert normalize_problem("  A\n b\t c ") == "A b c" != normalize_problem("a b c")


def test_selection_dedups_drops_unverifiable_rows_and_counts_why():
    picked = select_prompts(ROWS, n=100, seed=0, verifier=MathVerifyVerifier())
    texts = [p.text for p in picked.problems]
    assert len(texts) == len(set(map(normalize_problem, texts))) == 11  # one of the two 1/2 rows, and the ten products
    assert picked.counts == {"visited": len(ROWS), "kept": 11, "other_part": 0, "duplicate": 1, "excluded": 0,
                             "no_boxed_answer": 1, "unverifiable": 1}
    half = next(p for p in picked.problems if "1/2" in p.text)
    assert half.answer == "\\frac{1}{2}" and half.level == 0 and half.id in ("numina-0", "numina-1")
    assert MathVerifyVerifier().is_correct("so it is \\boxed{0.5}", half.answer)  # rollouts verify against it
    by_id = {p.id: p for p in picked.problems}
    assert by_id["numina-4"] == MathProblem("numina-4", "Compute $2 \\times 3$.", "6", "gsm8k")  # id = source row


def test_selection_is_seeded_stops_at_n_and_honours_exclusions():
    verifier = MathVerifyVerifier()
    first, again = (select_prompts(ROWS, n=4, seed=3, verifier=verifier) for _ in range(2))
    assert first == again and len(first.problems) == 4
    assert first.counts["visited"] < len(ROWS)  # the scan stops once n are kept
    assert select_prompts(ROWS, n=4, seed=4, verifier=verifier).problems != first.problems
    held = [p.text for p in first.problems[:2]]
    rest = select_prompts(ROWS, n=100, seed=3, verifier=verifier, exclude=held)
    assert not {normalize_problem(t) for t in held} & {normalize_problem(p.text) for p in rest.problems}
    assert rest.counts["excluded"] == 2 and rest.counts["kept"] == 9
    with pytest.raises(ValueError, match="n must be"):
        select_prompts(ROWS, n=-1, seed=0, verifier=verifier)


def test_selection_reads_a_dataset_as_it_reads_a_list(tmp_path):
    ds = read_numina(write_snapshot(tmp_path / "snap", ROWS))
    assert select_prompts(ds, 5, 1, MathVerifyVerifier()) == select_prompts(ROWS, 5, 1, MathVerifyVerifier())


def test_the_held_out_part_is_a_fixed_share_of_problems_by_their_text():
    texts = [f"Compute ${k} \\times 7$." for k in range(40000)]
    share = sum(map(in_heldout, texts)) / len(texts)
    assert abs(share - HELDOUT_SHARE) < 0.002  # 1 %, by a hash of the text
    held = next(t for t in texts if in_heldout(t))
    assert in_heldout(f"  {held}\n") and in_heldout(held.replace(" ", "  "))  # as the deduplication compares texts


def test_training_draws_never_hold_a_held_out_problem_and_the_held_out_draw_holds_only_them(tmp_path):
    products = [(k, f"Compute ${k} \\times 7$.") for k in range(2, 3000)]
    held = [(k, t) for k, t in products if in_heldout(t)][:5]
    trained = [(k, t) for k, t in products if not in_heldout(t)][:20]
    rows = [row(t, f"We get $\\boxed{{{7 * k}}}$.") for k, t in held + trained]
    verifier = MathVerifyVerifier()
    train = select_prompts(rows, n=100, seed=0, verifier=verifier)
    assert {p.text for p in train.problems} == {t for _, t in trained} and train.counts["other_part"] == len(held)
    heldout = select_prompts(rows, n=100, seed=0, verifier=verifier, purpose="heldout", part="heldout")
    assert {p.text for p in heldout.problems} == {t for _, t in held} and heldout.counts["other_part"] == len(trained)
    # what a stage calls: the first n of the held-out part in one fixed order, whatever the study's seed
    snapshot = write_snapshot(tmp_path / "snap", rows, train_files=1)
    three = heldout_prompts(snapshot, "train", 3, verifier)
    assert three == heldout.problems[:3]
    with pytest.raises(ValueError, match="part must be one of"):
        select_prompts(rows, n=1, seed=0, verifier=verifier, part="test")
