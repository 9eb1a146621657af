"""The benchmark's results as a Markdown table, and the docs page that explains it."""

from __future__ import annotations

import os
import platform
import statistics
from importlib.metadata import version
from pathlib import Path

import psutil
import torch

from scripts.local_bench.inputs import ROOT
from scripts.local_bench.measure import TaskResult
from testing.stats import percentile

DOCS_PAGE = ROOT / "docs" / "benchmarks-local.md"
OVERHEAD_TARGET = 5.0  # percent of the direct call's latency
MiB = 2**20


COLUMNS = (
    "task",
    "runs",
    "load (s)",
    "first call (s)",
    "app median / p95 (ms)",
    "direct median / p95 (ms)",
    "app − direct (ms)",
    "around the model call (ms)",
    f"< {OVERHEAD_TARGET:g} %",
    "RSS before load → peak (MiB)",
    "models loaded",
    "same output",
)


def table_row(result: TaskResult) -> list[str]:
    if result.error is not None:
        return [result.task, "failed: " + result.error.replace("|", "\\|"), *["—"] * (len(COLUMNS) - 2)]
    direct = statistics.median(result.direct)
    around = around_model_call(result)
    return [
        result.task,
        str(result.runs),
        f"{result.load:.1f}",
        f"{result.first_call:.1f}",
        f"{_ms(statistics.median(result.app))} / {_ms(percentile(result.app, 0.95))}",
        f"{_ms(direct)} / {_ms(percentile(result.direct, 0.95))}",
        _share(statistics.median(result.app) - direct, direct),
        "—" if around is None else _share(around, direct),
        "—" if around is None else "yes" if 100 * around / direct < OVERHEAD_TARGET else "no",
        f"{result.rss_before_load / MiB:.0f} → {result.peak_rss / MiB:.0f}",
        ", ".join(result.models_loaded),
        {True: "yes", False: "no", None: "—"}[result.same_output],
    ]


def around_model_call(result: TaskResult) -> float | None:
    """Median of what each app call spent outside its model call; None unless one model call per request."""
    if len(result.in_model_call) != len(result.app):
        return None
    return statistics.median(app - model for app, model in zip(result.app, result.in_model_call, strict=True))


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f}"


def _share(seconds: float, of: float) -> str:
    return f"{_ms(seconds)} ({100 * seconds / of:.1f} %)"


def markdown_table(results: list[TaskResult]) -> str:
    rows = [list(COLUMNS), ["---"] * len(COLUMNS), *(table_row(result) for result in results)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def inputs_list(results: list[TaskResult]) -> str:
    return "\n".join(
        f"- **{result.task}** ({result.model}): {result.inputs or 'not run'}" for result in results
    )


def machine_summary(load_before: float, load_after: float) -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line for line in lines if line.startswith("model name")]
    cpu = names[0].split(":", 1)[1].strip() if names else platform.processor()
    return (
        f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {version('torch')}, transformers "
        f"{version('transformers')}, diffusers {version('diffusers')}, gradio {version('gradio')}. "
        f"Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end."
    )


def docs_page(flag: str, table: str, inputs: str, machine: str, duration: str) -> str:
    """The page `--write-docs` writes; `flag` is the profile's option, with its leading space."""
    return f"""# Local backend benchmarks

How fast each app answers on the in-process backend (`INFERENCE_BACKEND=local`), how much of that
is the app (Gradio, the queue, the task layer) rather than the model, and how much memory a process
serving one app needs. Throughput under many visitors, batched against unbatched:
[benchmarks-local-concurrency.md](benchmarks-local-concurrency.md).

Reproduce with `python scripts/bench_local.py{flag} --write-docs` (`--models-dir DIR` keeps the
built models for the next run). `--realistic` builds models with the real checkpoints'
architectures and sizes but random weights: latency and memory are the real ones, outputs are noise.
Each task runs in its own process serving only its app; app calls and direct calls alternate, so
that other load on the machine slows both alike.

Machine: {machine} The whole run took {duration}.

{table}

Inputs, the same for the app and the direct call:

{inputs}

Columns:
- **load**: loading the model alone (`from_pretrained`), measured inside the first call.
- **first call**: the first request through the app, which loads the model (load + first inference + app).
- **app**: a warm request through the app over Gradio's HTTP API (`POST /gradio_api/call/<api_name>`,
  then its event stream), as a browser or curl sends it: upload, queue, task-layer checks, model,
  download of the result. `gradio_client` adds about 150 ms per call on top: it looks for new
  messages every 50 ms.
- **direct**: the same inputs through the same loaded model, with the functions of the model that
  `common/backends/local.py` runs (`summarize_texts`, `classify_texts`, ...), in the same process,
  without Gradio, the task layer or the model's worker thread.
- **p95**: nearest rank; with fewer than 20 runs it is the slowest run.
- **app − direct**: the difference of the medians, in ms and in % of the direct median.
- **around the model call**: the median, over app calls, of each call's latency minus the time it
  spent in the backend method that runs the model (timed inside the app process), in ms and in % of
  the direct median. It is what the app adds, measured within each call, so it holds where
  app − direct scatters because other work on the machine slowed one call more than the other; it
  leaves out only the backend's own hand-offs to worker threads (well under a millisecond each).
- **< {OVERHEAD_TARGET:g} %**: whether what the app adds around the model call is under the target share.
- **RSS before load → peak**: the process's resident memory with the app running and torch imported,
  before the model loads; and the most it held: what serving this one app needs.
- **models loaded**: the backends whose model the process loaded; one each shows that a process
  serving one app loads only that app's model.
- **same output**: whether the last app call and the last direct call produced the same output
  (seeded where the model samples), so that both did the same work.
"""


def format_duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
