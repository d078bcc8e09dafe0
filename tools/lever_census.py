"""The lever table of docs/results.md ("Every lever tried, in one table"), counted from the committed score tables: for each row,
its runs, their lowest and highest average F1 on toy ProcessBench, and how many are clearly above / level with /
below the row's zero-shot reference judge (by more than 3 points, on the one-decimal scores the tables print:
`stepwiser_core.lever_census`), beside the counts the table states, which were kept by hand. Then the total over
the rows from a careful init, with every level run's difference, as the table's bold row lists them. (The table
was in the README until session 51; the `readme_*` columns hold what it states.)

    python tools/lever_census.py

`ROWS` below is the manifest: per lever-table row, the tables its runs were scored into (found from the file names the
row or docs/judge_study.md cites), a regular expression for its judges' names and its reference judge, in one part
per init where the row's runs come from several. A row whose runs were scored with `--no-write` has no part and is
reported as "no table", never guessed. The table's own counts (`readme_*`) are the only numbers written here, and
only to be compared with: its runs and score range are read from docs/results.md itself.

Writes results/<tier>/04_processbench/lever_census.{csv,md} (one line per row, then the careful-init totals) and
lever_census_runs.{csv,md} (every run counted, with its reference, difference and class, and the table's own
`diff_vs_zero_shot` and `by_3_point_margin` where it has them, which compare unrounded scores).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The Intel run's tables (tools/grpo_seeds.py, tools/more_items.py) hold no zero-shot row: its score is notebook 04's,
# kept with the Intel run's stage outputs.
INTEL_RUN = "previous_run_880059f/04_processbench/table"
RULES = "(abs_q|rel_ratio|rel_effective)"
# the seed-part tables also hold the corners (all three parts one seed): the runs of the seed tables, under other
# names, counted in their own rows
NOT_A_CORNER = r"(?!d(\d+)o\1s\1$)d\d+o\d+s\d+"


def part(tables: list[str], judges: str, reference: str | float, label: str = "") -> dict:
    """One init's share of a row: its score tables, the judges' name pattern (whole name) and the reference."""
    return {"tables": tables, "judges": judges, "reference": reference, "label": label}


def row(name: str, readme: str, parts: list[dict], careful: bool = True, above: int | None = None,
        level: int | None = None, level_diffs: str | None = None, note: str = "") -> dict:
    """One lever-table row: `readme` is the start of its first cell; `above`, `level` and `level_diffs` are the table's
    counts for it (None where the row states none: a bare "0" states no level count, and the table's total counts
    none there; level runs given by their scores, not their differences, have no `level_diffs`)."""
    return {"name": name, "readme": readme, "parts": parts, "careful": careful, "readme_above": above,
            "readme_level": level, "readme_level_diffs": level_diffs, "note": note}


NO_WRITE = "scored with `--no-write`; no score table"
NOT_IN_GRPO_SEEDS = NO_WRITE + " (docs: \"not in `grpo_seeds.md`\")"
# The readme_* counts below are the lever table's, as corrected by this census (session 44); `readme_counts` flags a row
# edited since. The rows without a table give the level runs docs/judge_study.md quotes the scores of.
ROWS: list[dict] = [
    row("intel_paper_recipe", "nothing: the paper's recipe",
        [part(["grpo_seeds", INTEL_RUN], rf"stepwiser_{RULES}_seed[0-2]", "zero_shot")], above=0),
    row("intel_warmup_redrawn", "the warm-up redrawn as well",
        [part(["warmup_seeds"], rf"{RULES}_warmup{s}", f"zero_shot_warmup{s}", f"warm-up seed {s}") for s in (1, 2)],
        above=0, level=1, level_diffs="−0.6"),
    row("intel_rationale_rewards", "rewards read off the rationale",
        [part(["grpo_seeds", INTEL_RUN], rf"(consistent_reward|consistency_shaped)_{RULES}_seed[0-2]", "zero_shot")],
        above=0),
    row("intel_sampling", "sampling: T = 1.5", [], above=0, level=3, level_diffs="−2.5, −2.5, −2.9",
        note=NOT_IN_GRPO_SEEDS),
    row("intel_kl", "a KL term ten times stronger", [], above=0, note=NO_WRITE),
    row("intel_300_steps", "300 steps (Abs-Q; gated", [], above=0, note=NOT_IN_GRPO_SEEDS),
    row("intel_more_items", "four times the prompts",
        [part(["more_items", "more_items_strict", "more_items_seed1", "more_items_steps300", INTEL_RUN],
              r".+_n960_steps(100|300)_seed[01]", "zero_shot")], above=0),
    row("intel_truth_labels", "labels that agree with the exact truth",
        [part(["oracle_clean", "oracle_clean_strict", "oracle_clean_lines", INTEL_RUN],
              r".+_oracle_clean_rel_ratio_n(240|960)_steps100_seed[01]", "zero_shot")], above=0),
    row("intel_decision_free", "the decision words",
        [part(["grpo_seeds", INTEL_RUN], rf"decision_free_{RULES}_seed[01]", "zero_shot")], above=0),
    row("warmup300_init", "from the 300-step warm-up's init", [], above=0, level=4,
        level_diffs="+1.3, +0.3, −1.9, −2.1",
        note=NO_WRITE),
    row("warmup450_init", "from a 450-step warm-up's init", [], above=0, note=NO_WRITE),
    row("amd_careful_init", "a fresh checkout on an AMD EPYC",
        [part(["lazy_strategy", "lazy_strategy_seeds"], r"careful_(abs_q|rel_ratio)_s0", "zero_shot_careful"),
         part(["grpo_checkpoints_rel_effective"], r"rel_effective_step100", "zero_shot", "checkpointed run")],
        above=0),
    row("amd_eval_isolated", "the same AMD careful init, Abs-Q with GRPO's in-training evaluation isolated",
        [part(["grpo_eval_isolation_check"], r"careful0_abs_q_isolated_s[0-2]", "careful0_zero_shot")], above=0),
    row("amd_warmup_seed1", "the careful warm-up redrawn on the AMD checkout (`-p seed 1`",
        [part(["grpo_checkpoints_careful1", "grpo_checkpoints_careful1_rel_ratio"], rf"{RULES}_step100",
              "zero_shot")], above=0, level=1, level_diffs="+0.0"),
    row("amd_warmup_seed2_abs_q", "the careful warm-up redrawn on the AMD checkout with `-p seed 2`",
        [part(["grpo_checkpoints_careful2", "careful2_abs_q_seeds"], r"abs_q_seed2init_step100|abs_q_seed[01]",
              "zero_shot")], above=2, level=1),
    row("amd_warmup_seed2_rel", "the same seed-2 init",
        [part(["grpo_checkpoints_careful2_rel"], r"rel_(ratio|effective)_seed2init_step100", "zero_shot")],
        above=0, level=0),
    row("amd_warmup900_seeds12", "900-step careful warm-ups on the AMD checkout",
        [part(["grpo_checkpoints_warmup900_seed1"], r"abs_q_w900s1init_step100", "zero_shot", "seed 1, checkpointed"),
         part(["careful900_grpo_runs"], r"rel_ratio_w900s1", "zero_shot_seed1", "seed 1"),
         part(["careful900_grpo_runs"], r"abs_q_w900s2", "zero_shot_seed2", "seed 2")], above=0, level=0),
    row("amd_warmup_seeds34", "two more 600-step careful warm-ups",
        [part([f"grpo_checkpoints_careful{s}", f"careful{s}_abs_q_seeds"], rf"abs_q_seed{s}init_step100|abs_q_seed[01]",
              "zero_shot", f"warm-up seed {s}") for s in (3, 4)], above=0, level=1, level_diffs="+2.2"),
    row("committed_verdict_seeds", "the committed run (AMD checkout)",
        [part(["committed_run_grpo_seeds"], rf"stepwiser_{RULES}_seed\d+", "zero_shot")],
        above=0, level=3, level_diffs="+2.0, \u22122.0, \u22120.7"),
    row("committed_gated_rel_ratio", "the committed init, the consistency-gated reward on Rel-Ratio",
        [part(["committed_run_gated_rel_ratio"], r"gated_rel_ratio_seed[01]", "zero_shot")], above=0, level=0),
    row("committed_rewards_beyond", "the committed init, the consistency-gated reward (Abs-Q",
        [part(["committed_run_rewards_beyond"], rf"(gated|strict)_{RULES}_seed\d+", "zero_shot")], above=1, level=8,
        level_diffs="+2.1, +0.8, +0.7, \u22121.1, \u22121.6, \u22122.3, \u22122.7, \u22123.0"),
    row("committed_rel_effective_seeds_5_9", "the committed init, Rel-Effective GRPO seeds 5–9",
        [part(["committed_run_rel_effective_more_seeds"], r"(gated|stepwiser)_rel_effective_seed[5-9]", "zero_shot")],
        above=0, level=5, level_diffs="+1.2, +0.4, \u22120.8, \u22121.1, \u22122.3"),
    row("committed_strict_more_seeds", "the committed init, the strict gate on Rel-Ratio seeds",
        [part(["committed_run_strict_gate_more_seeds"], rf"(strict|stepwiser)_{RULES}_seed\d+", "zero_shot")],
        above=0, level=5, level_diffs="+0.5, \u22120.4, \u22121.1, \u22122.2, \u22122.2"),
    row("warmup900_seed3_gates", "a second strong init",
        [part(["warmup900_seed3_gates"], rf"(gated|stepwiser|strict)_{RULES}_seed\d+", "zero_shot")],
        above=0, level=3, level_diffs="\u22121.0, \u22121.0, \u22121.6"),
    row("committed_seed_parts", "the committed init, the paper's recipe on Rel-Effective with a GRPO seed's",
        [part(["seed_parts_rel_effective"], "re_" + NOT_A_CORNER, "zero_shot")], above=0, level=5,
        level_diffs="+0.1, \u22120.7, \u22121.9, \u22122.7, \u22122.7"),
    row("committed_seed_parts_gated", "the same for the consistency-gated reward",
        [part(["seed_parts_gated_rel_effective"], "gre_" + NOT_A_CORNER, "zero_shot")], above=0, level=6,
        level_diffs="+0.2, \u22120.1, \u22120.3, \u22121.3, \u22122.2, \u22122.9"),
    row("intel900_stage", "the committed settings on another Intel checkout",
        [part(["intel_run_900_c545171/04_processbench/table"], rf"stepwiser_{RULES}", "zero_shot")],
        above=0, level=1, level_diffs="\u22120.4"),
    row("intel900_verdict_seeds", "the same Intel init (79.9)",
        [part(["intel900_grpo_seeds", "intel900_more_seeds", "intel900_rel_effective_seeds_7_9"],
              r"stepwiser_(abs_q|rel_ratio)_seed[12]|stepwiser_rel_effective_seed[1-9]", "zero_shot")],
        above=0, level=6, level_diffs="+0.9, +0.2, \u22120.4, \u22121.2, \u22121.7, \u22122.7"),
    row("intel900_gates", "the same Intel init: the consistency-gated reward",
        [part(["intel900_grpo_seeds", "intel900_more_seeds", "intel900_rel_effective_seeds_7_9",
               "intel900_strict_rel_effective"],
              r"gated_rel_effective_seed\d|strict_rel_ratio_seed[0-2]|strict_rel_effective_seed[0-3]", "zero_shot")],
        above=0, level=11, level_diffs="+0.4, \u22120.1, \u22120.2, \u22120.5, \u22120.9, \u22121.2, \u22121.2, "
                                       "\u22121.6, \u22122.0, \u22122.2, \u22122.4"),
    row("intel900_seed_parts", "the same Intel init: the paper's recipe on Rel-Effective with a GRPO seed's",
        [part(["intel900_seed_parts_rel_effective"], "re_" + NOT_A_CORNER, "zero_shot")], above=0, level=11,
        level_diffs="+1.5, +1.5, +0.9, +0.7, \u22120.3, \u22120.5, \u22120.9, \u22121.1, \u22122.1, \u22122.3, "
                    "\u22122.6"),
    row("intel900_data_halves", "the same Intel init and pairs",
        [part(["intel900_data_halves_rel_effective", "intel900_data_halves_rel_effective_2"],
              r"re_d\d+b\d+o\d+s\d+", "zero_shot")], above=0, level=3, level_diffs="+0.4, \u22120.6, \u22121.2"),
    row("intel900_drop_false_alarms", "the same Intel init, a DIAGNOSTIC",
        [part([f"intel900_drop_false_alarms_{x}" for x in "abcde"] + ["intel900_drop_false_alarms_redrawn"],
              r"drop_(false_alarms|random)_rel_effective_(seed\d+|d\d+o\d+s\d+)", "zero_shot")], above=0, level=15,
        level_diffs="+1.7, +0.7, +0.2, +0.1, \u22120.1, \u22120.3, \u22120.4, \u22120.7, \u22120.7, \u22121.1, "
                    "\u22121.3, \u22121.7, \u22122.2, \u22122.4, \u22122.7"),
    row("intel900_sets_redrawn", "the same Intel init: the paper's recipe on Rel-Effective, each",
        [part([f"intel900_rel_effective_sets_redrawn_{x}" for x in "abc"], r"re_d\d+o1[1-3]s1[1-3]", "zero_shot")],
        above=0, level=13, level_diffs="+2.2, +1.2, +1.1, +0.4, \u22120.0, \u22120.1, \u22120.4, \u22120.6, "
                                       "\u22121.3, \u22121.6, \u22121.8, \u22121.8, \u22122.1"),
    # the positive control's inits (not careful; not in the bold total); the same tables as tools/lazy_share_counts.py
    row("lazy_mix", "the positive control, same AMD checkout",
        [part(["lazy_strategy", "lazy_strategy_seeds"], rf"mix_{RULES}_s[0-2]", "zero_shot_lazy_mix")],
        careful=False, above=3, level=4),
    row("lazy_mix_unbalanced", "the same init, Abs-Q without balancing",
        [part(["lazy_strategy"], r"mix_abs_q_s0_unbalanced", "zero_shot_lazy_mix")], careful=False, above=0),
    row("lazy_mix_warmup_seed1", "the lazy-mix warm-up on a second seed",
        [part(["lazy_strategy_warmup_seed1"], rf"ws1_{RULES}_s[01]", "ws1_zero_shot")], careful=False, above=2,
        level=1),
    row("lazy_mix_1200", "a lazy-mix warm-up of 1200 steps",
        [part(["lazy_strategy_warmup1200"], rf"lazy1200_{RULES}_s[0-2]", "lazy1200_zero_shot")], careful=False,
        above=3, level=2),
    row("lazy_share03", "lazy share 0.3 instead of 0.5",
        [part(["lazy_strategy_share03", "lazy_strategy_share03_seed1", "lazy_strategy_share03_rel_effective_more"],
              rf"lazy03_{RULES}_s\d+", "lazy03_zero_shot")], careful=False, above=1, level=2),
    row("lazy_share07", "lazy share 0.7 (its zero-shot judge: 2.3",
        [part(["lazy_strategy_share07", "lazy_strategy_share07_seed1"], rf"lazy07_{RULES}_s\d+", "lazy07_zero_shot")],
        careful=False, above=5, level=1),
    row("lazy_share03_warmup_seed1", "lazy share 0.3 on a second warm-up seed",
        [part(["lazy_strategy_share03_warmup_seed1", "lazy_strategy_share03_warmup_seed1_abs_q_seeds",
               "lazy_strategy_share03_warmup_seed1_all_seeds"], rf"lazy03w1_{RULES}_s\d+", "lazy03w1_zero_shot")],
        careful=False, above=3, level=3),
    row("lazy_share07_warmup_seed1", "lazy share 0.7 on a second warm-up seed",
        [part(["lazy_strategy_share07_warmup_seed1", "lazy_strategy_share07_warmup_seed1_abs_q_seeds",
               "lazy_strategy_share07_warmup_seed1_all_seeds"], rf"lazy07w1_{RULES}_s\d+", "lazy07w1_zero_shot")],
        careful=False, above=9, level=2),
]
# the bold row: the table's total over the rows from a careful init
TOTAL = row("all from a careful init", "**all from a careful init**", [], above=3, level=106)  # no diff list


def readme_counts(entry: dict, readme_text: str) -> dict:
    """The lever table's counts for one manifest row: its runs and score range read from its row (None where no
    row starts with the entry's `readme`), the rest from the manifest; `stale` where the row no longer holds the
    manifest's list of level differences (the table was edited: update the manifest's `readme_*` fields)."""
    from stepwiser_core.lever_census import parse_range, readme_row

    cells = readme_row(readme_text, entry["readme"])
    if cells is None:
        print(f"warning: no lever-table row of docs/results.md starts with {entry['readme']!r}", file=sys.stderr)
    stale = False
    if cells and entry["readme_level_diffs"]:  # each listed difference, in order, in the row's last cell
        rest = cells[3]
        for d in entry["readme_level_diffs"].split(", "):
            at = rest.find(d)
            stale, rest = (True, rest) if at < 0 else (stale, rest[at + len(d):])
    return {"found": cells is not None, "stale": stale, "runs": int(cells[1].strip("*")) if cells else None,
            "range": parse_range(cells[2]) if cells else None, "above": entry["readme_above"],
            "level": entry["readme_level"], "level_diffs": entry["readme_level_diffs"]}


def compare(found: dict, readme: dict, reconstructed: bool) -> str:
    """What differs between a row's counts from the score tables and the lever table's, as one line ("yes" where nothing
    does). Only what the lever table states is compared; on a partial row, only what the missing runs cannot change."""
    from collections import Counter

    from stepwiser_core.lever_census import diff_list

    out = [] if readme.get("found", True) else ["lever-table row not found"]
    if readme.get("stale"):
        out.append("lever-table row edited since the manifest's readme_* fields")
    if readme["runs"] is not None and found["runs"] != readme["runs"]:
        out.append(f"runs {found['runs']} vs stated {readme['runs']}")
    if reconstructed and readme["range"] is not None and found["runs"]:
        if (round(found["min_f1"], 1), round(found["max_f1"], 1)) != readme["range"]:
            out.append(f"range {found['min_f1']:.1f}–{found['max_f1']:.1f} vs stated "
                       f"{readme['range'][0]:.1f}–{readme['range'][1]:.1f}")
    for key in ("above", "level"):
        if readme[key] is None:
            if key == "level" and found["level"] and reconstructed:
                out.append(f"level {found['level']} vs none stated (the table's total counts none here)")
        elif found[key] != readme[key] and (reconstructed or found[key] > readme[key]):
            out.append(f"{key} {found[key]} vs stated {readme[key]}")
    if reconstructed and readme["level_diffs"] is not None:
        ours, theirs = Counter(diff_list(found["level_diffs"])), Counter(diff_list(readme["level_diffs"]))
        if ours != theirs:
            only = lambda c: ", ".join(diff_list(", ".join(c.elements()))) or "none"  # noqa: E731
            out.append(f"level diffs: tables have {only(ours - theirs)} where the table has {only(theirs - ours)}")
    return "; ".join(out) or "yes"


def flat(line: dict) -> dict:
    """One output line: the score tables' counts beside the lever table's."""
    r, rng = line["readme"], line["readme"]["range"]
    blank = lambda v: "" if v is None else v  # noqa: E731
    return {"row": line["row"], "careful": line["careful"], "status": line["status"],
            "runs": line["runs"], "readme_runs": blank(r["runs"]),
            "f1_range": "" if not line["runs"] else f"{line['min_f1']:.1f}" if line["min_f1"] == line["max_f1"]
            else f"{line['min_f1']:.1f}–{line['max_f1']:.1f}",
            "readme_range": "" if not rng else f"{rng[0]:.1f}" if rng[0] == rng[1] else f"{rng[0]:.1f}–{rng[1]:.1f}",
            "above": line["above"], "readme_above": blank(r["above"]),
            "level": line["level"], "readme_level": blank(r["level"]),
            "below": line["below"], "agrees": line["agrees"], "level_diffs": line["level_diffs"],
            "readme_level_diffs": blank(r["level_diffs"]), "tables": line["tables"]}


def main() -> None:
    import pandas as pd

    from stepwiser_core import lever_census as lc
    from stepwiser_core.tables import to_markdown, write_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="toy")
    ap.add_argument("--margin", type=float, default=lc.MARGIN, help="points within which a run is level")
    ap.add_argument("--readme", default=str(ROOT / "docs" / "results.md"),
                    help="the Markdown file whose lever table is checked")
    args = ap.parse_args()

    tier = ROOT / "results" / args.tier
    readme_text = Path(args.readme).read_text(encoding="utf-8")
    lines, frames, counted = [], [], {}
    for entry in ROWS:
        readme = readme_counts(entry, readme_text)
        parts = []
        for p in entry["parts"]:
            try:
                runs = lc.versus_reference(lc.load_scores(tier, p["tables"]), p["judges"], p["reference"],
                                           args.margin)
            except ValueError as err:
                raise SystemExit(f"row {entry['name']} {p['label']}: {err}") from None
            for r in runs.itertuples():  # a run is counted in one row, by one part
                for t in r.tables.split(", "):
                    if (t, r.judge) in counted:
                        raise SystemExit(f"{t}: judge {r.judge} is counted in rows {counted[t, r.judge]} and "
                                         f"{entry['name']}")
                    counted[t, r.judge] = entry["name"]
            parts.append(runs.assign(row=entry["name"], part=p["label"], reference=str(p["reference"])))
        runs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["average_f1", "diff", "class"])
        found = lc.summarise(runs)
        if not entry["parts"]:
            status = "no table"
        elif readme["runs"] is not None and found["runs"] < readme["runs"]:
            status = f"partial: {found['runs']} of {readme['runs']} runs found"
        elif readme["runs"] is not None and found["runs"] > readme["runs"]:
            status = f"more: {found['runs']} runs found, stated {readme['runs']}"
        else:
            status = "reconstructed"
        agrees = (f"– ({entry['note']})" if not entry["parts"] else compare(found, readme, status == "reconstructed"))
        lines.append({"row": entry["name"], "careful": entry["careful"], "status": status, **found,
                      "readme": readme, "agrees": agrees,
                      "tables": "; ".join(", ".join(p["tables"]) for p in entry["parts"])})
        frames += parts

    runs = pd.concat(frames, ignore_index=True)
    careful = [ln for ln in lines if ln["careful"]]
    no_table = [ln for ln in careful if ln["status"] == "no table"]
    incomplete = [ln for ln in careful if ln["status"] != "reconstructed"]
    found = lc.summarise(runs[runs["row"].isin({ln["row"] for ln in careful})])
    readme_total = readme_counts(TOTAL, readme_text)
    if not readme_total["found"]:
        raise SystemExit(f"no lever-table row of docs/results.md starts with {TOTAL['readme']!r}: where is the careful total?")
    total = {"row": TOTAL["name"], "careful": True, "status": (
                 f"partial: {found['runs']} of {readme_total['runs']} runs found ({len(incomplete)} rows not "
                 "reconstructed)" if incomplete else "reconstructed"),
             **found, "readme": readme_total, "agrees": compare(found, readme_total, not incomplete), "tables": ""}
    # the table's total less what it gives for the rows without a table: what the tables should reproduce
    theirs = lc.diff_list(readme_total["level_diffs"])
    for ln in no_table:
        for d in lc.diff_list(ln["readme"]["level_diffs"]):
            if d in theirs:  # a stated total that lacks it shows up in the comparison below
                theirs.remove(d)
    expected = {"found": readme_total["found"], "range": None,
                "level_diffs": ", ".join(theirs) if readme_total["level_diffs"] is not None else None,
                **{k: readme_total[k] - sum(ln["readme"][k] or 0 for ln in no_table)
                   for k in ("runs", "above", "level")}}
    rest = "reconstructed" if len(incomplete) == len(no_table) else "partial"
    with_tables = {"row": TOTAL["name"] + ", rows with a table", "careful": True, "status": rest, **found,
                   "readme": expected, "agrees": compare(found, expected, rest == "reconstructed"), "tables": ""}

    table = pd.DataFrame([flat(ln) for ln in [*lines, total, with_tables]])
    write_table(table, tier / "04_processbench", "lever_census", digits=1)
    shown = ["row", "status", "runs", "readme_runs", "f1_range", "readme_range", "above", "readme_above", "level",
             "readme_level", "below", "agrees"]
    print(to_markdown(table[shown], digits=1))
    for t in (total, with_tables):
        print(f"{t['row']}: {t['runs']} runs, {t['above']} above, {t['level']} level, {t['below']} below")
        print(f"  level diffs, tables: {t['level_diffs']}")
        print(f"  level diffs, stated: {t['readme']['level_diffs']}")

    keep = ["row", "part", "judge", "tables", "average_f1", "reference", "reference_f1", "diff", "class",
            "table_diff", "table_verdict"]
    runs = runs.reindex(columns=keep)
    write_table(runs, tier / "04_processbench", "lever_census_runs", digits=1)
    judged = runs[runs["table_verdict"].notna()]
    odd = judged[judged["table_verdict"] != judged["class"]]
    print(f"\n{len(judged)} runs have their table's own `by_3_point_margin` (unrounded scores); "
          f"{len(odd)} of them are classed otherwise here{':' if len(odd) else '.'}")
    if len(odd):
        print(odd.to_string(index=False))


if __name__ == "__main__":
    main()
