"""RFM scoring, pure: quintile scores 1-5 and the named segment of an (R, F) pair.

Recency is the days since the member's last verified visit (fewer is better), frequency their verified
visits in the window, monetary what their receipts came to net of refunds; each is scored against the
program's other members by mid-rank, so tied values share a score.

Segment names follow the common 11-segment RFM table (Putler, "RFM Analysis For Successful Customer
Segmentation", https://www.putler.com/rfm-analysis/), assigned on the recency-by-frequency grid the
way the widely used RxF map does (e.g. the `seg_map` of Kaggle's "RFM Analysis" notebooks:
[1-2][1-2] Hibernating, [1-2][3-4] At risk, [1-2]5 Can't lose them, 3[1-2] About to sleep, 33 Need
attention, [3-4][4-5] Loyal, 41 Promising, 51 New, [4-5][2-3] Potential loyalists, 5[4-5] Champions),
with R=1 F=1 split off from Hibernating as Lost so all eleven names are used. Monetary is scored and
reported but, as in that map, does not move the segment.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)

# rows: R score 5..1; columns: F score 1..5
_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Lost", "Hibernating", "At risk", "At risk", "Can't lose them"),
}


def segment_of(r_score: int, f_score: int) -> str:
    return _GRID[r_score][f_score - 1]


def quintiles(values: Sequence[int], *, higher_is_better: bool = True) -> list[int]:
    """Scores 1-5 by mid-rank: 1 + ⌊5·(worse + equal/2) / n⌋, counting the members doing worse and those
    tied (the member too). Equal values share a score, and a tie sits mid-way: when everyone is equal,
    everyone scores 3, never the worst score for all; `higher_is_better=False` for recency in days."""
    ordered = sorted(values)
    n = len(values)
    scores = []
    for value in values:
        below, above = bisect.bisect_left(ordered, value), n - bisect.bisect_right(ordered, value)
        worse = below if higher_is_better else above
        equal = n - below - above
        scores.append(1 + (10 * worse + 5 * equal) // (2 * n))
    return scores
