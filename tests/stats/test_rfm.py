"""RFM scoring rules: quintiles and the segment grid."""

from __future__ import annotations

import itertools

import pytest

from hub.stats.rfm import SEGMENTS, quintiles, segment_of


def test_quintiles_split_ten_values_in_fives() -> None:
    """Ten distinct values score 1,1,2,2,…,5,5; a higher value never scores lower."""
    assert quintiles(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintiles(list(range(9, -1, -1))) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


@pytest.mark.parametrize(
    ("values", "higher_is_better", "scores"),
    [
        # everyone equal: everyone mid-way, never everyone at the bottom
        ([7, 7, 7], True, [3, 3, 3]),
        ([0, 0, 0, 0], False, [3, 3, 3, 3]),
        ([42], True, [3]),
        ([0], False, [3]),
        # recency in days: fewer days is the better score
        ([3, 1, 2], False, [1, 5, 3]),
        ([0, 200], False, [4, 2]),
        ([0, 0, 0, 0, 300], False, [4, 4, 4, 4, 1]),
        ([300, 300, 300, 300, 0], False, [3, 3, 3, 3, 5]),
        # ties share a score, wherever they fall
        ([1, 1, 5, 5, 9, 9], True, [1, 1, 3, 3, 5, 5]),
        ([1, 2, 2, 2, 3], True, [1, 3, 3, 3, 5]),
        ([10, 10, 10, 10, 1], True, [4, 4, 4, 4, 1]),
    ],
)
def test_quintile_scores(values: list[int], higher_is_better: bool, scores: list[int]) -> None:
    """Mid-rank scores: equal values score alike, and the better value scores at least as high."""
    assert quintiles(values, higher_is_better=higher_is_better) == scores


@pytest.mark.parametrize("higher_is_better", [True, False])
@pytest.mark.parametrize(
    "values", [[0, 1, 1, 2, 3, 5, 8, 13], [5] * 9 + [1], list(range(100)), [0, 30, 30, 60, 365, 365]]
)
def test_scores_stay_in_range_and_follow_the_order(values: list[int], higher_is_better: bool) -> None:
    """Every score is 1-5; equal values share one; a better value never scores lower than a worse one."""
    scores = quintiles(values, higher_is_better=higher_is_better)
    assert all(1 <= score <= 5 for score in scores)
    for (a, score_a), (b, score_b) in itertools.product(zip(values, scores, strict=True), repeat=2):
        if a == b:
            assert score_a == score_b
        elif (a > b) == higher_is_better:
            assert score_a >= score_b


def test_everyone_once_today_is_not_lost() -> None:
    """In a program where every member came once, today, the segment is the same for all and not Lost."""
    r = quintiles([0] * 6, higher_is_better=False)
    f = quintiles([1] * 6)
    assert {segment_of(rs, fs) for rs, fs in zip(r, f, strict=True)} == {"Need attention"}


@pytest.mark.parametrize(
    ("r", "f", "segment"),
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 5, "Loyal"),
        (3, 4, "Loyal"),
        (5, 2, "Potential loyalists"),
        (4, 3, "Potential loyalists"),
        (5, 1, "New"),
        (4, 1, "Promising"),
        (3, 3, "Need attention"),
        (3, 1, "About to sleep"),
        (2, 3, "At risk"),
        (1, 4, "At risk"),
        (1, 5, "Can't lose them"),
        (2, 2, "Hibernating"),
        (1, 2, "Hibernating"),
        (1, 1, "Lost"),
    ],
)
def test_segment_grid(r: int, f: int, segment: str) -> None:
    """Each (R, F) pair lands in its named segment of the standard grid."""
    assert segment_of(r, f) == segment


def test_every_cell_has_a_known_name_and_every_name_is_used() -> None:
    """All 25 cells are named, with all eleven segment names."""
    names = {segment_of(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == set(SEGMENTS)
