"""Benchmark the local backend: load time, warm latency through each app against the bare model, memory.

    python scripts/bench_local.py [--tiny | --realistic] [--models-dir DIR] [--runs K] [--write-docs]
    python scripts/bench_local.py --concurrency [--tiny | --realistic] [--models-dir DIR]

Models: by default the ones the configuration names (the Hub ids unless *_MODEL is set); `--tiny`
builds the test suite's tiny models; `--realistic` builds random-weight models as large as the real
checkpoints, so that latency and memory are the real ones while the outputs are noise.

Each task runs in its own process, serving only its app: the first call through the app loads the
model, then app calls (over Gradio's HTTP API, as a browser or curl makes them) alternate with
direct calls of the same model with the same inputs, as `common/backends/local.py` makes them, so
that a busy machine slows both alike. The difference is what Gradio and the task layer cost.
A `--realistic` run, building the models included, takes about 9 minutes on two CPU cores.

`--concurrency`: 8 visitors at once over raw REST, batched against unbatched in the same run, and a
single visitor's p50 (`scripts/local_bench/concurrency.py`), for ner, summarize and caption.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.settings import MODEL_VARIABLES, TASKS  # noqa: E402
from scripts.local_bench.measure import run_worker  # noqa: E402
from scripts.local_bench.report import DOCS_PAGE  # noqa: E402
from scripts.local_bench.run import Profile, run_benchmark  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    models = parser.add_mutually_exclusive_group()
    models.add_argument("--tiny", action="store_true", help="the test suite's tiny random-weight models")
    models.add_argument("--realistic", action="store_true", help="random-weight models of the real sizes")
    parser.add_argument("--models-dir", type=Path, help="build models here and reuse them on later runs")
    parser.add_argument(
        "--runs", type=int, help="warm calls per task and way (default: 20 with --tiny, else 2 to 20 by task)"
    )
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="only these tasks")
    parser.add_argument("--concurrency", action="store_true", help="8 visitors: batched against unbatched")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS_PAGE.relative_to(ROOT)}")
    parser.add_argument("--worker", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def compare_with_direct_calls(args: argparse.Namespace) -> None:
    """The default mode: each task through its app against direct calls of its model."""
    profile: Profile = "tiny" if args.tiny else "realistic" if args.realistic else "configured"
    run_benchmark(profile, args.tasks or list(TASKS), args.runs, args.models_dir, args.write_docs)


def compare_batched_with_unbatched(args: argparse.Namespace) -> None:
    """8 visitors at once on each batchable task, with and without batching, in this process."""
    from scripts.local_bench.concurrency import BATCHABLE, measure, table
    from scripts.local_bench.run import models_root, prepare_models

    profile: Profile = "tiny" if args.tiny else "realistic" if args.realistic else "configured"
    tasks = [task for task in args.tasks or BATCHABLE if task in BATCHABLE]
    with models_root(args.models_dir) as root:
        models = prepare_models(profile, root, tasks)
        os.environ.update(
            {"INFERENCE_BACKEND": "local", **{MODEL_VARIABLES[task]: models[task] for task in tasks}}
        )
        results = [result for task in tasks for result in measure(task)]
    print(table(results))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:  # one task, in the process the default mode started for it
        run_worker(args.worker, args.runs, args.result)
    elif args.concurrency:
        compare_batched_with_unbatched(args)
    else:
        compare_with_direct_calls(args)


if __name__ == "__main__":
    main()
