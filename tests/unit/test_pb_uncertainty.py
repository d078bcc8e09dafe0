"""Unit tests for stepwiser_core.pb_uncertainty: the paired, stratified bootstrap of a ProcessBench F1 difference."""

import doctest
import math

import numpy as np
import pytest

from stepwiser_core import pb_uncertainty
from stepwiser_core.pb_uncertainty import (
    PairedDifference,
    format_difference,
    paired_f1_difference,
    paired_seed_test,
    versus_table,
)
from stepwiser_core.processbench import PBRecord, score


def _bench(labels_by_subset: dict[str, list[int]]) -> dict[str, list[PBRecord]]:
    return {name: [PBRecord(f"{name}-{i}", "g", "p", ("a", "b", "c"), lab == -1, lab) for i, lab in enumerate(labels)]
            for name, labels in labels_by_subset.items()}


def _noisy_judge(bench, p_right: float, rng: np.random.Generator) -> dict[str, int]:
    """Right with probability `p_right` on every record, else a wrong prediction."""
    return {r.id: (r.label if rng.random() < p_right else (0 if r.label == -1 else -1))
            for recs in bench.values() for r in recs}


BENCH = _bench({"gsm8k": [-1, 0, 1, 2] * 15, "math": [-1, -1, 0, 2] * 12})


def test_doctests():
    assert doctest.testmod(pb_uncertainty).failed == 0


def test_observed_difference_is_the_difference_of_official_scores():
    rng = np.random.default_rng(1)
    a, b = _noisy_judge(BENCH, 0.8, rng), _noisy_judge(BENCH, 0.6, rng)
    d = paired_f1_difference(BENCH, a, b, n_resamples=500)
    assert d.diff == pytest.approx(score(BENCH, a)["average_f1"] - score(BENCH, b)["average_f1"])
    assert d.ci_low <= d.diff <= d.ci_high
    swapped = paired_f1_difference(BENCH, b, a, n_resamples=500)
    # the same draws, the difference negated
    assert (swapped.diff, swapped.ci_low, swapped.ci_high) == pytest.approx((-d.diff, -d.ci_high, -d.ci_low))


def test_a_judge_right_everywhere_the_other_is_and_more_is_significantly_better():
    truth = {r.id: r.label for recs in BENCH.values() for r in recs}
    worse = dict(truth)
    for rid in list(worse)[::3]:  # wrong on a third of the records, of both kinds
        worse[rid] = None
    d = paired_f1_difference(BENCH, truth, worse, n_resamples=2000)
    assert d.diff > 0 and d.ci_low > 0 and d.share_not_above == 0.0


def test_equal_judges_of_different_mistakes_have_an_interval_around_zero():
    rng = np.random.default_rng(7)
    big = _bench({"s": [-1, 0, 1, 2] * 100})
    a, b = _noisy_judge(big, 0.7, rng), _noisy_judge(big, 0.7, rng)
    d = paired_f1_difference(big, a, b, n_resamples=2000)
    assert d.ci_low < 0 < d.ci_high
    assert 0.05 < d.share_not_above < 0.95


def test_interval_narrows_with_more_records():
    rng = np.random.default_rng(3)
    small = _bench({"s": [-1, 0, 1, 2] * 25})
    large = _bench({"s": [-1, 0, 1, 2] * 400})
    widths = []
    for bench in (small, large):
        d = paired_f1_difference(bench, _noisy_judge(bench, 0.75, rng), _noisy_judge(bench, 0.6, rng),
                                 n_resamples=2000)
        widths.append(d.ci_high - d.ci_low)
    assert widths[1] < widths[0] / 2.5  # 16× the records: about a quarter of the width


def test_seeded_and_independent_of_subset_order():
    rng = np.random.default_rng(5)
    a, b = _noisy_judge(BENCH, 0.8, rng), _noisy_judge(BENCH, 0.7, rng)
    first = paired_f1_difference(BENCH, a, b, n_resamples=300, seed=4)
    reordered = dict(reversed(list(BENCH.items())))
    assert paired_f1_difference(reordered, a, b, n_resamples=300, seed=4) == first
    assert paired_f1_difference(BENCH, a, b, n_resamples=300, seed=5) != first


def test_subsets_without_both_kinds_are_left_out_and_none_left_gives_nan():
    only_correct = _bench({"s": [-1, -1, -1]})
    preds = {r.id: -1 for r in only_correct["s"]}
    with pytest.warns(UserWarning, match="undefined"):
        undefined = paired_f1_difference(only_correct, preds, preds, n_resamples=10)
    assert all(math.isnan(x) for x in (undefined.diff, undefined.ci_low, undefined.ci_high, undefined.share_not_above))
    mixed = {**BENCH, **_bench({"extra": [-1, -1]})}
    truth = {r.id: r.label for recs in mixed.values() for r in recs}
    with pytest.warns(UserWarning):  # `score` warns about the undefined subset; the bootstrap skips it the same way
        d = paired_f1_difference(mixed, truth, truth, n_resamples=10)
    assert d.diff == 0.0


@pytest.mark.parametrize("kwargs", [{"n_resamples": 0}, {"level": 1.0}, {"level": 0.0}])
def test_bad_arguments_are_rejected(kwargs):
    with pytest.raises(ValueError):
        paired_f1_difference(BENCH, {}, {}, **kwargs)


def test_format_difference_signs_every_number():
    assert format_difference(PairedDifference(3.21, -0.44, 6.9, 0.03, 100)) == "+3.2 [−0.4, +6.9]"


def test_versus_table_rows_and_verdicts():
    truth = {r.id: r.label for recs in BENCH.values() for r in recs}
    worse = {rid: (None if i % 3 == 0 else lab) for i, (rid, lab) in enumerate(truth.items())}
    rng = np.random.default_rng(11)
    table = versus_table(BENCH, {"ref": worse, "perfect": truth, "noisy": _noisy_judge(BENCH, 0.67, rng)}, "ref",
                         n_resamples=1000)
    assert list(table.judge) == ["perfect", "noisy"]
    perfect = table.set_index("judge").loc["perfect"]
    expected = score(BENCH, truth)["average_f1"] - score(BENCH, worse)["average_f1"]
    assert perfect["diff_vs_ref"] == pytest.approx(expected)
    assert (perfect["by_3_point_margin"], perfect["by_interval"]) == ("above", "above")
    assert set(table.by_interval) <= {"above", "below", "not resolved"}
    with pytest.raises(KeyError, match="missing"):
        versus_table(BENCH, {"ref": worse}, "missing")


def test_versus_table_marks_an_undefined_difference():
    only_correct = _bench({"s": [-1, -1]})
    preds = {r.id: -1 for r in only_correct["s"]}
    with pytest.warns(UserWarning):
        table = versus_table(only_correct, {"ref": preds, "other": preds}, "ref", n_resamples=10)
    assert (table.by_3_point_margin.item(), table.by_interval.item()) == ("undefined", "undefined")


def test_paired_seed_test_exact_p_values():
    assert paired_seed_test([1, 1, 1, 1, 1], [0] * 5).p_two_sided == pytest.approx(2 / 32)  # all up: 2 of 32
    assert paired_seed_test([1, 1, 1, 1, -1], [0] * 5).p_two_sided == pytest.approx(12 / 32)  # |mean| ≥ 0.6: 12 of 32
    same = paired_seed_test([70.0, 80.0, 75.0], [70.0, 80.0, 75.0])
    assert (same.mean_diff, same.sd_diff, same.p_two_sided, same.a_better) == (0.0, 0.0, 1.0, 0)


def test_paired_seed_test_is_symmetric_and_reads_the_pairs():
    a, b = [77.2, 81.2, 63.2, 73.5, 74.5], [73.5, 82.4, 72.4, 81.3, 80.0]
    ab, ba = paired_seed_test(a, b), paired_seed_test(b, a)
    assert ab.p_two_sided == ba.p_two_sided and ab.mean_diff == pytest.approx(-ba.mean_diff)
    assert ab.a_better == 1 and ba.a_better == 4
    # pairing matters: the same numbers, paired otherwise, give another test
    assert paired_seed_test(sorted(a), sorted(b)).p_two_sided != ab.p_two_sided


@pytest.mark.parametrize("a,b", [([1.0], [1.0, 2.0]), ([], []), ([0.0] * 21, [1.0] * 21)])
def test_paired_seed_test_rejects_bad_input(a, b):
    with pytest.raises(ValueError):
        paired_seed_test(a, b)
