"""RFM scoring rules: quintiles and the segment grid."""

from __future__ import annotations

import pytest

from hub.stats.rfm import SEGMENTS, quintiles, segment_of


def test_quintiles_split_ten_values_in_fives() -> None:
    """Ten distinct values score 1,1,2,2,…,5,5; equal values share a score."""
    assert quintiles(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintiles([7, 7, 7]) == [1, 1, 1]
    assert quintiles([3, 1, 2], higher_is_better=False) == [1, 4, 2]


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
