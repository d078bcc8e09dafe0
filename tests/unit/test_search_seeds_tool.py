"""tools/search_seeds.py: notebook 05's tables of several seeds side by side, refused when the runs differ in more
than their seed."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]


def seed_folder(root: Path, seed: int, accuracy: dict, change: dict, **config) -> Path:
    folder = root / f"seed{seed}"
    folder.mkdir()
    pd.DataFrame({"judge": list(accuracy), "accuracy": list(accuracy.values())}).to_csv(folder / "table7.csv",
                                                                                         index=False)
    pd.DataFrame({"judge": list(change), "chunk_reset": list(change.values())}).to_csv(
        folder / "versus_zero_shot.csv", index=False)
    pd.DataFrame({"judge": ["pass@1", "a"], "accuracy": [0.5, 0.75]}).to_csv(folder / "best_of_n.csv", index=False)
    (folder / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "n_problems": 400,
                                                        "results_root": f"/r{seed}", **config}))
    return folder


def run_tool(*args):
    return subprocess.run([sys.executable, str(REPO / "tools" / "search_seeds.py"), *map(str, args)],
                          capture_output=True, text=True)


def test_two_seeds_side_by_side(tmp_path):
    a = seed_folder(tmp_path, 0, {"none": 0.5, "zero_shot": 0.75, "a": 0.875}, {"none": -0.25, "a": 0.125})
    b = seed_folder(tmp_path, 1, {"none": 0.5, "zero_shot": 0.625, "a": 0.625}, {"none": -0.125, "a": 0.0})
    done = run_tool("--run", f"0={a}", "--run", f"1={b}", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    change = pd.read_csv(tmp_path / "out" / "versus_zero_shot_by_seed.csv").set_index("judge")
    assert change.loc["a", "seed0"] == 0.125 and change.loc["a", "seed1"] == 0.0 and change.loc["a", "mean"] == 0.0625
    accuracy = pd.read_csv(tmp_path / "out" / "accuracy_by_seed.csv").set_index("judge")
    assert accuracy.loc["zero_shot", "mean"] == 0.6875
    assert (tmp_path / "out" / "best_of_n_by_seed.md").is_file()


def test_runs_that_differ_in_more_than_their_seed_are_refused(tmp_path):
    a = seed_folder(tmp_path, 0, {"a": 0.5}, {"a": 0.0})
    b = seed_folder(tmp_path, 1, {"a": 0.5}, {"a": 0.0}, max_attempts=3)
    done = run_tool("--run", f"0={a}", "--run", f"1={b}", "--out", tmp_path / "out")
    assert done.returncode != 0 and "max_attempts" in done.stderr
    done = run_tool("--run", f"1={a}", "--run", f"0={b}", "--out", tmp_path / "out")  # seeds swapped
    assert done.returncode != 0 and "another seed" in done.stderr
    done = run_tool("--run", f"0={a}", "--run", "1=" + str(tmp_path / "nowhere"), "--out", tmp_path / "out")
    assert done.returncode != 0 and "table7.csv" in done.stderr
    assert not (tmp_path / "out").exists()


def test_seeds_with_their_searches_are_also_pooled_over_problems(tmp_path):
    folders = [seed_folder(tmp_path, s, {"zero_shot": 0.5, "a": 0.5}, {"a": 0.0}) for s in (0, 1, 2)]
    for folder, a_right in zip(folders[1:], ([True, True], [False, True])):  # seed 0 has no searches.csv
        pd.DataFrame({"judge": ["zero_shot"] * 2 + ["a"] * 2, "problem_id": ["p", "q"] * 2,
                      "correct": [True, False] + a_right, "no_wrong_step": True, "accepted_tokens": 1,
                      "rejected_tokens": 0, "rejected_chunks": 0, "exhausted": 0, "finished": True}).to_csv(
            folder / "searches.csv", index=False)
    done = run_tool(*[f"--run={s}={f}" for s, f in enumerate(folders)], "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    pooled = pd.read_csv(tmp_path / "out" / "versus_zero_shot_pooled.csv").set_index("judge")
    # p: a right in 1 of 2 searches, zero_shot in 2 of 2: -0.5; q: a 2 of 2, zero_shot 0 of 2: +1.0
    assert pooled.loc["a", "chunk_reset"] == 0.25 and pooled.loc["a", "pooled_seeds"] == "1 2"
    assert pooled.loc["a", "searches"] == 4 and pooled.loc["a", "problems"] == 2
    done = run_tool(f"--run=0={folders[0]}", f"--run=1={folders[1]}", "--out", tmp_path / "out1")
    assert done.returncode == 0 and not (tmp_path / "out1" / "versus_zero_shot_pooled.csv").exists()
    searches = pd.read_csv(folders[2] / "searches.csv")
    searches[searches["problem_id"] == "p"].to_csv(folders[2] / "searches.csv", index=False)  # seed 2 lost a problem
    done = run_tool(*[f"--run={s}={f}" for s, f in enumerate(folders)], "--out", tmp_path / "out2")
    assert done.returncode != 0 and "other judges or problems" in done.stderr and "Traceback" not in done.stderr
