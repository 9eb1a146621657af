"""The benchmark's parent process: prepares the models, runs one worker process per task, reports.

Each task runs in a fresh process serving only its app, so that the memory it reports is what serving
that one app needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import psutil

from common.settings import MODEL_VARIABLES, Task, load_settings
from scripts.local_bench.inputs import ROOT
from scripts.local_bench.measure import TaskResult
from scripts.local_bench.report import (
    DOCS_PAGE,
    docs_page,
    format_duration,
    inputs_list,
    machine_summary,
    markdown_table,
)

Profile = Literal["configured", "tiny", "realistic"]
PROFILE_FLAGS: dict[Profile, str] = {"configured": "", "tiny": " --tiny", "realistic": " --realistic"}
CLI = ROOT / "scripts" / "bench_local.py"
TINY_RUNS = 20
# Warm calls per task and way with real-size models: a reply or an image costs seconds to tens of
# seconds on a small CPU, so the slow tasks get fewer runs to keep the whole benchmark within minutes.
REAL_SIZE_RUNS: dict[Task, int] = {"summarize": 3, "ner": 20, "caption": 5, "imagegen": 2, "chat": 3}
WORKER_TIMEOUT = 30 * 60


def prepare_models(profile: Profile, root: Path, tasks: list[Task]) -> dict[Task, str]:
    """The model each task runs: configured ids, or directories built under `root`."""
    if profile == "configured":
        settings = load_settings()
        return {task: settings.for_task(task).model for task in tasks}
    # Imported only here: a worker holds in memory what a process serving its app would, and no more.
    from testing.real_size_models import build_real_size
    from testing.tiny_models import build_tiny_models

    tiny = build_tiny_models(root / "tiny")
    if profile == "tiny":
        return {task: str(getattr(tiny, task)) for task in tasks}
    return {task: str(build_real_size(task, tiny, root / "realistic" / task)) for task in tasks}


def run_in_subprocess(task: Task, model: str, runs: int, environment: dict[str, str]) -> TaskResult:
    """Measure one task in a fresh process, so that its memory is its own."""
    with tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "result.json"
        command = [sys.executable, str(CLI), "--worker", task, f"--runs={runs}", f"--result={result_file}"]
        environment = {**environment, MODEL_VARIABLES[task]: model}
        try:
            finished = subprocess.run(
                command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=WORKER_TIMEOUT
            )
        except subprocess.TimeoutExpired:
            return TaskResult(task=task, model=model, error=f"no result within {WORKER_TIMEOUT} s")
        if finished.returncode or not result_file.exists():
            print(*(finished.stdout + finished.stderr).splitlines()[-40:], sep="\n", file=sys.stderr)
            return TaskResult(task=task, model=model, error=f"the worker exited with {finished.returncode}")
        return TaskResult(**json.loads(result_file.read_text()))


def worker_environment(profile: Profile, scratch: Path) -> dict[str, str]:
    """This process's environment, with the local backend and nothing sent off the machine."""
    environment = {
        **os.environ,
        "INFERENCE_BACKEND": "local",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_TEMP_DIR": str(scratch / "gradio"),
    }
    if profile != "configured":
        environment["HF_HUB_OFFLINE"] = "1"  # built models are directories: nothing to fetch
    return environment


def model_label(profile: Profile, task: Task, model: str) -> str:
    """How the report names a model: built directories are temporary, so by what they are."""
    if profile == "tiny":
        return "the tests' tiny model"
    if profile == "realistic":
        from testing.real_size_models import REAL_SIZE_SHAPES

        return f"random weights shaped like `{REAL_SIZE_SHAPES[task]}`"
    return f"`{model}`"


@contextmanager
def models_root(models_dir: Path | None) -> Iterator[Path]:
    """`--models-dir` if given (kept), else a temporary directory (removed with its models)."""
    if models_dir is not None:
        models_dir.mkdir(parents=True, exist_ok=True)
        yield models_dir
        return
    with tempfile.TemporaryDirectory(prefix="bench-local-") as scratch:
        yield Path(scratch)


def run_benchmark(
    profile: Profile, tasks: list[Task], runs: int | None, models_dir: Path | None, write_docs: bool
) -> None:
    """Every task through its app and directly, each in a worker process; print the table, maybe the page.

    `runs` is the number of warm calls per task and way; None takes the profile's default.
    """
    load_before = os.getloadavg()[0]
    results: list[TaskResult] = []
    with models_root(models_dir) as root, tempfile.TemporaryDirectory() as scratch:
        models = prepare_models(profile, root, tasks)
        print(f"Models ready after {format_duration(_uptime())}.", flush=True)
        environment = worker_environment(profile, Path(scratch))
        for task in tasks:
            task_runs = runs or (TINY_RUNS if profile == "tiny" else REAL_SIZE_RUNS[task])
            print(f"{task}: {models[task]}, {task_runs} runs ...", flush=True)
            result = run_in_subprocess(task, models[task], task_runs, environment)
            result.model = model_label(profile, task, models[task])
            if result.error is not None:
                print(f"{task} failed: {result.error}", flush=True)
            results.append(result)
    duration = format_duration(_uptime())
    table, inputs = markdown_table(results), inputs_list(results)
    machine = machine_summary(load_before, os.getloadavg()[0])
    print(f"\n{table}\n\nInputs:\n{inputs}\n\nMachine: {machine}\nTotal time: {duration}.")
    if write_docs:
        DOCS_PAGE.write_text(docs_page(PROFILE_FLAGS[profile], table, inputs, machine, duration))
        print(f"Wrote {DOCS_PAGE.relative_to(ROOT)}.")


def _uptime() -> float:
    """Seconds since this process started, imports included."""
    return time.time() - psutil.Process().create_time()
