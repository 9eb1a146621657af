"""Throughput under many visitors: batched against unbatched, in one run, on the same loaded model.

Eight visitors call the app over raw REST at once, each one call after another; then one visitor
alone gives the latency a single visitor sees. "Unbatched" is the same app with the model's batch
size set to 1 (and its events to one request at a time), as before batching; both builds share the
one loaded model, and run in turn, so a change in the machine's load hits both alike.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from gradio_client import Client

from common.backends import local
from common.settings import Task
from scripts.local_bench.workloads import BENCHES
from testing.apps import running_app, settings_from
from testing.rest import GradioRest
from testing.stats import percentile

VISITORS = 8
BATCHABLE: tuple[Task, ...] = ("ner", "summarize", "caption")
CALLS_PER_VISITOR: dict[Task, int] = {"ner": 12, "summarize": 2, "caption": 2}
SINGLE_VISITOR_CALLS: dict[Task, int] = {"ner": 60, "summarize": 3, "caption": 4}


@dataclass
class Throughput:
    task: Task
    batched: bool
    requests_per_second: float
    single_p50: float
    batch_sizes: list[int]


@contextmanager
def batching(enabled: bool) -> Iterator[None]:
    """The backend's batch sizes as they are, or all 1: one request per model call."""
    names = ("TEXT_BATCH", "SUMMARY_BATCH")
    saved = {name: getattr(local, name) for name in names}
    if not enabled:
        for name in names:
            setattr(local, name, 1)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(local, name, value)


def measure(task: Task) -> list[Throughput]:
    """Unbatched, then batched, on the same loaded model."""
    settings = settings_from(os.environ)
    bench = BENCHES[task]
    results = []
    for batched in (False, True):
        with batching(batched), running_app(bench.app, settings) as client:
            call = _caller(client, bench.via_app)
            call()  # loads the model on the first build; warms the app on both
            worker = local.LOCAL_BACKENDS[task](settings.for_task(task)).worker()
            sizes_before = len(worker.batch_sizes)
            rate = _requests_per_second(call, CALLS_PER_VISITOR[task])
            sizes = worker.batch_sizes[sizes_before:]
            single = [_timed(call) for _ in range(SINGLE_VISITOR_CALLS[task])]
        results.append(Throughput(task, batched, rate, percentile(single, 0.5), sizes))
    return results


def _caller(client: Client, via_app: Callable[[GradioRest], object]) -> Callable[[], object]:
    """One call through the app, on a connection of the calling thread's own."""
    clients: dict[int, GradioRest] = {}

    def call() -> object:
        key = threading.get_ident()
        if key not in clients:
            clients[key] = GradioRest(client, httpx.Client(timeout=600))
        return via_app(clients[key])

    return call


def _requests_per_second(call: Callable[[], object], calls_each: int) -> float:
    def visitor(_: int) -> None:
        for _ in range(calls_each):
            call()

    start = time.perf_counter()
    with ThreadPoolExecutor(VISITORS) as pool:
        list(pool.map(visitor, range(VISITORS)))
    return VISITORS * calls_each / (time.perf_counter() - start)


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def table(results: list[Throughput]) -> str:
    """Markdown: per task, requests/s for 8 visitors and a single visitor's p50, unbatched vs batched."""
    rows = [
        "| task | 8 visitors, unbatched (req/s) | 8 visitors, batched (req/s) | gain | one visitor p50, "
        "unbatched / batched (ms) | batch sizes (batched) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    by_task: dict[Task, dict[bool, Throughput]] = {}
    for result in results:
        by_task.setdefault(result.task, {})[result.batched] = result
    for task, pair in by_task.items():
        off, on = pair[False], pair[True]
        sizes = sorted(set(on.batch_sizes))
        rows.append(
            f"| {task} | {off.requests_per_second:.2f} | {on.requests_per_second:.2f} | "
            f"{on.requests_per_second / off.requests_per_second:.2f}x | {off.single_p50 * 1000:.0f} / "
            f"{on.single_p50 * 1000:.0f} | {', '.join(map(str, sizes))} |"
        )
    return "\n".join(rows)
