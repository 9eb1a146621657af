"""The statistics the benchmarks report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least `share` of all samples at or below it.

    With fewer than 20 samples, p95 is the slowest; NaN when there is nothing to rank.
    """
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]
