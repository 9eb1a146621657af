"""One task measured in this process: its app served here, timed against direct calls of its model.

Besides timing whole calls, it wraps the backend's `load` and its model-running method, so that the
report can tell loading from inference, and the app's own cost from the model's, within each call.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from common.backends.local import MODELS, LocalBackend
from common.settings import Task
from common.ui import show_note
from scripts.local_bench.workloads import BENCHES, TaskBench
from testing.apps import running_app, settings_from
from testing.rest import AppCallError, GradioRest


@dataclass
class TaskResult:
    """What one worker process measured; times in seconds, memory in bytes."""

    task: Task
    model: str
    runs: int = 0
    load: float | None = None
    first_call: float | None = None
    app: list[float] = field(default_factory=list)
    in_model_call: list[float] = field(default_factory=list)
    direct: list[float] = field(default_factory=list)
    rss_before_load: int = 0
    peak_rss: int = 0
    models_loaded: list[str] = field(default_factory=list)
    same_output: bool | None = None
    inputs: str = ""
    error: str | None = None


def measure_task(task: Task, runs: int) -> TaskResult:
    """Serve the task's app from this process and time it against direct calls of its loaded model."""
    bench = BENCHES[task]
    settings = settings_from(os.environ)
    # With the notifier the apps' tasks pass: the factories cache by both, so this is the app's backend.
    backend = bench.backend(settings, show_note)
    result = TaskResult(task=task, model=settings.for_task(task).model)
    load_times = _record_load_times(backend)
    model_call_times = _record_call_times(backend, bench.model_call)
    with running_app(bench.app, settings) as client, httpx.Client(timeout=None) as http:
        app = GradioRest(client, http)
        result.rss_before_load = psutil.Process().memory_info().rss
        try:
            result.first_call, _ = _timed(lambda: bench.via_app(app))
        except AppCallError as error:
            result.error = str(error)
            return result
        result.load = sum(load_times)
        model_call_times.clear()
        model = backend.model()
        _alternate(bench, app, model, runs, result)
        result.in_model_call = list(model_call_times)
        result.inputs = bench.describe(model)
    result.peak_rss = peak_rss()
    result.models_loaded = [name for name, _model in MODELS.loaded()]
    return result


def _alternate(bench: TaskBench, app: GradioRest, model: Any, runs: int, result: TaskResult) -> None:
    """Warm calls, through the app and direct in turn, so that changes in the machine's load hit both."""
    app_output = direct_output = None
    for _ in range(runs):
        elapsed, app_output = _timed(lambda: bench.via_app(app))
        result.app.append(elapsed)
        elapsed, direct_output = _timed(lambda: bench.directly(model))
        result.direct.append(elapsed)
    result.runs = runs
    if bench.same_output is not None:
        result.same_output = bench.same_output(app_output, direct_output)


def _record_load_times(backend: LocalBackend) -> list[float]:
    """Time the backend's own `load` inside the app's first call: the pure load, without the inference."""
    times: list[float] = []
    load = backend.load

    def timed_load(source: str) -> Any:
        elapsed, loaded = _timed(lambda: load(source))
        times.append(elapsed)
        return loaded

    backend.load = timed_load  # type: ignore[method-assign]
    return times


def _record_call_times(backend: LocalBackend, method: str) -> list[float]:
    """Time each call of the backend method that runs the model, as the app makes it.

    The app's latency minus this is what the app adds around the model, measured within one call:
    unlike app minus direct, it does not suffer from two calls being slowed differently.
    """
    times: list[float] = []
    call = getattr(backend, method)

    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - start)

    async def timed_stream(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        start = time.perf_counter()
        try:
            async for item in call(*args, **kwargs):
                yield item
        finally:
            times.append(time.perf_counter() - start)

    setattr(backend, method, timed_stream if inspect.isasyncgenfunction(call) else timed_call)
    return times


def peak_rss() -> int:
    """The most memory this process has held, in bytes.

    From /proc, not `getrusage`: Linux carries `ru_maxrss` over from the parent across exec, so every
    worker would report the peak of the process that built the models.
    """
    status = Path("/proc/self/status")
    if status.exists():
        high_water = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(high_water.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # macOS counts bytes


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    outcome = action()
    return time.perf_counter() - start, outcome


def run_worker(task: Task, runs: int, result_file: Path) -> None:
    result_file.write_text(json.dumps(asdict(measure_task(task, runs))))
