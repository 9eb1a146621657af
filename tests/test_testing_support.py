"""Small pieces of testing/ the benchmarks report with: the percentile, the event-stream reader."""

import math

import pytest

from testing.rest import EventStream
from testing.stats import percentile

SAMPLES = [0.5, 0.1, 0.4, 0.2, 0.3]


@pytest.mark.parametrize(
    ("share", "expected"), [(0.5, 0.3), (0.95, 0.5), (0.2, 0.1), (0.21, 0.2), (0.0, 0.1)]
)
def test_percentile_is_the_nearest_rank(share, expected):
    assert percentile(SAMPLES, share) == expected


def test_percentile_of_nothing_is_nan():
    assert math.isnan(percentile([], 0.5))


def test_an_event_stream_pairs_each_data_line_with_its_event():
    events = EventStream()
    lines = ["event: generating", 'data: ["You"]', "", "event: complete", 'data: ["You said"]', ": ping"]

    assert [message for line in lines if (message := events.read(line)) is not None] == [
        ("generating", ["You"]),
        ("complete", ["You said"]),
    ]
