"""How many concurrent users one app process serves, and what it adds to the model's own latency.

    python scripts/bench.py [--users 24] [--requests 10] [--latency 0.3] [--token-delay 0.02]
                            [--rounds 3] [--skip-naive] [--loop uvloop --http httptools]
                            [--status-update-rate SECONDS] [--write-docs]

The test inference server answers after a fixed latency, so whatever a request takes beyond it is
the app's own cost. The apps, the test server and the load generator each run in a process of their
own, as an app, its backend and its users do: sharing one interpreter (one GIL) would measure their
contention instead.

Users call the REST API as a script would (`POST /gradio_api/call/<api_name>`, then read the
result's event stream), each with a session and a connection of its own, as a browser tab has.

The numbers depend on the machine and on whatever else runs on it; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Nothing leaves the machine; spawned app processes inherit this environment.
os.environ.update({"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"})

import gradio as gr  # noqa: E402
import httpx  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from huggingface_hub import AsyncInferenceClient, InferenceClient  # noqa: E402

from common.ui import QUEUE_MAX_SIZE, REMOTE_CONCURRENCY  # noqa: E402
from scripts.serve import load_app  # noqa: E402
from scripts.serving import serving  # noqa: E402
from testing.apps import settings_from  # noqa: E402
from testing.inference_server import InferenceTestServer, chat_tokens, summary_for  # noqa: E402
from testing.rest import call_events, final_events  # noqa: E402
from testing.stats import percentile  # noqa: E402

AppKind = Literal["summarize", "chatbot", "sleep", "naive"]

FAKE_TOKEN = "hf_benchmark_not_a_real_token"
TEXT = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
CHAT_MESSAGE = "Tell me a story about a lighthouse keeper who counts the ships that pass at night. " * 2
CHAT_MAX_TOKENS = 256
CHATS = 8
CHAT_TIMEOUT = 60.0
DOCS = ROOT / "docs" / "benchmarks.md"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
STOP, CPU_QUERY = "stop", "cpu"
CEILING = "bare sleep (ceiling)"

# Targets on a 2-core machine at 24 users and 0.3 s of backend latency.
TARGET_FRACTION_OF_IDEAL = 0.7
TARGET_ADDED_MS = 50.0


@dataclass(frozen=True)
class AppSpec:
    """One app to serve and how: sent to the app's process, so it holds only plain values."""

    label: str
    kind: AppKind
    loop: str = "asyncio"
    http: str = "h11"
    status_update_rate: float | None = None


@dataclass(frozen=True)
class Workload:
    """What every user sends to an app, and the answer that counts as a success."""

    api_name: str
    data: list[Any]
    expected: str


WORKLOADS: dict[AppKind, Workload] = {
    "summarize": Workload("summarize", [TEXT, 30, 130], summary_for(TEXT, 130)),
    "naive": Workload("summarize", [TEXT], summary_for(TEXT)),
    "sleep": Workload("sleep", [TEXT], TEXT),
}


@dataclass
class LoadResult:
    """What one app did under load: latencies of the good answers, failures, time and CPU spent."""

    label: str
    users: int
    planned: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    app_cpu: float = 0.0
    client_cpu: float = 0.0


@dataclass(frozen=True)
class StreamTiming:
    """One streamed reply: seconds to the first token, and tokens per second after it."""

    first_token: float
    tokens_per_second: float


# The app's process


def sleep_demo(latency: float) -> gr.Blocks:
    """The ceiling: Gradio's own cost per request, with a handler that only waits like a backend."""

    async def wait_and_echo(text: str) -> str:
        await asyncio.sleep(latency)
        return text

    demo = gr.Interface(wait_and_echo, gr.Textbox(), gr.Textbox(), api_name="sleep", flagging_mode="never")
    return demo.queue(default_concurrency_limit=None)


def naive_demo(endpoint: str) -> gr.Blocks:
    """The course notes' pattern: a blocking call in a sync handler, at Gradio's default concurrency."""
    client = InferenceClient(model=endpoint, token=FAKE_TOKEN)

    def summarize(text: str) -> str:
        return client.summarization(text).summary_text

    return gr.Interface(
        summarize,
        gr.Textbox(label="Text to summarize", lines=6),
        gr.Textbox(label="Result", lines=3),
        api_name="summarize",
    )


def build(spec: AppSpec, environ: dict[str, str], latency: float) -> gr.Blocks:
    """The demo a spec names. The status variant rebuilds the app's queue with the limits
    `ready_to_serve` sets, changing only how often queue status goes out."""
    if spec.kind == "sleep":
        return sleep_demo(latency)
    if spec.kind == "naive":
        return naive_demo(environ["HF_API_SUMMARY_BASE"])
    demo = load_app(spec.kind).build_demo(settings_from(environ))
    if spec.status_update_rate is not None:
        demo.queue(
            status_update_rate=spec.status_update_rate,
            default_concurrency_limit=REMOTE_CONCURRENCY,
            max_size=QUEUE_MAX_SIZE,
        )
    return demo


def serve(spec: AppSpec, environ: dict[str, str], latency: float, conn: Connection) -> None:
    """Entry point of an app's process: serve until told to stop, reporting CPU time when asked."""
    demo = build(spec, environ, latency)
    # `demo.launch()` lets uvicorn pick the event loop and HTTP implementation ("auto": uvloop and
    # httptools whenever installed), so comparing them in one run needs a server configured here.
    app = gr.mount_gradio_app(FastAPI(), demo, path="")
    with serving(
        app, loop=spec.loop, http=spec.http, start_timeout=STARTUP_TIMEOUT, stop_timeout=STOP_TIMEOUT
    ) as served:
        conn.send(served.url)
        while conn.recv() == CPU_QUERY:
            conn.send(time.process_time())


def serve_inference(latency: float, token_delay: float, conn: Connection) -> None:
    """Entry point of the test inference server's process: sends the variables that point at it."""
    with InferenceTestServer(latency=latency, token_delay=token_delay) as server:
        conn.send({**server.env(), "HF_TOKEN": FAKE_TOKEN})
        conn.recv()


@contextmanager
def spawned(label: str, target: Callable[..., None], *args: Any) -> Iterator[tuple[Connection, Any]]:
    """`target(*args, conn)` in a new process: the line to it, and the first thing it sends.

    The process is told to stop on exit, and terminated if it does not.
    """
    context = multiprocessing.get_context("spawn")
    conn, child_conn = context.Pipe()
    process = context.Process(target=target, args=(*args, child_conn), daemon=True)
    process.start()
    child_conn.close()  # the child's end stays open only in the child: its exit reads as end of file here
    try:
        if not conn.poll(STARTUP_TIMEOUT):
            raise RuntimeError(f"{label} did not start within {STARTUP_TIMEOUT:g} s")
        try:
            first = conn.recv()
        except EOFError:
            raise RuntimeError(f"{label} failed to start: its error is printed above") from None
        yield conn, first
    finally:
        if process.is_alive():
            conn.send(STOP)
        process.join(STOP_TIMEOUT)
        if process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT)


@dataclass(frozen=True)
class AppProcess:
    """A running app's address, and the line to its process that reports CPU time."""

    url: str
    conn: Connection

    def cpu_seconds(self) -> float:
        self.conn.send(CPU_QUERY)
        return self.conn.recv()


@contextmanager
def app_process(spec: AppSpec, environ: dict[str, str], latency: float) -> Iterator[AppProcess]:
    with spawned(spec.label, serve, spec, environ, latency) as (conn, url):
        yield AppProcess(url, conn)


# The load generator


async def call(client: httpx.AsyncClient, base: str, workload: Workload, session_hash: str) -> bool:
    """One request; True when it ends in the expected answer."""
    ended = await final_events(client, base, workload.api_name, workload.data, session_hash)
    return ended == [("complete", [workload.expected])]


def request_timeout(users: int, latency: float) -> float:
    """Long enough for a request queued behind every other user on a one-at-a-time app."""
    return 10.0 + 2 * users * latency


async def user(
    client: httpx.AsyncClient, base: str, workload: Workload, requests: int, timeout: float, good: list[float]
) -> None:
    """One user's requests, one after another, in one session; adds the latency of each good one."""
    session_hash = uuid.uuid4().hex
    for _ in range(requests):
        start = time.perf_counter()
        try:
            ok = await asyncio.wait_for(call(client, base, workload, session_hash), timeout)
        except (httpx.HTTPError, asyncio.TimeoutError, ValueError, KeyError):
            ok = False
        if ok:
            good.append(time.perf_counter() - start)


async def drive(app: AppProcess, label: str, workload: Workload, args: argparse.Namespace) -> LoadResult:
    """`args.users` users, each sending `args.requests` requests in turn; every wait is bounded.

    Each user has a client (and connection) of its own, as a browser has: one pool shared by all
    would make the load generator scan every connection on every request.
    """
    result = LoadResult(label, args.users, args.users * args.requests)
    timeout = request_timeout(args.users, args.latency)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(timeout=timeout)) for _ in range(args.users)
        ]
        await asyncio.wait_for(call(clients[0], app.url, workload, uuid.uuid4().hex), timeout)  # warm-up
        users = [user(c, app.url, workload, args.requests, timeout, result.latencies) for c in clients]
        app_cpu, client_cpu, start = app.cpu_seconds(), time.process_time(), time.perf_counter()
        # Requests still running at the deadline count as errors, as failed ones do.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*users), timeout * args.requests)
        result.elapsed = time.perf_counter() - start
        result.app_cpu = app.cpu_seconds() - app_cpu
        result.client_cpu = time.process_time() - client_cpu
    result.errors = result.planned - len(result.latencies)
    return result


def measure_load(spec: AppSpec, environ: dict[str, str], args: argparse.Namespace) -> LoadResult:
    """The best of `args.rounds` rounds on one app process: other work on the machine only slows a
    round down. The naive app gets one round: its limit is its concurrency, and a round is long."""
    rounds = 1 if spec.kind == "naive" else args.rounds
    with app_process(spec, environ, args.latency) as app:
        results = [asyncio.run(drive(app, spec.label, WORKLOADS[spec.kind], args)) for _ in range(rounds)]
    print(f"  measured {spec.label}", flush=True)
    return max(results, key=throughput)


# Streaming


async def direct_timing(endpoint: str) -> StreamTiming:
    """A reply streamed straight from the server, on a client opened for it as the app's backend does."""
    start = time.perf_counter()
    stamps: list[float] = []
    async with AsyncInferenceClient(model=endpoint, token=FAKE_TOKEN) as client:
        stream = await client.chat_completion(
            [{"role": "user", "content": CHAT_MESSAGE}], stream=True, max_tokens=CHAT_MAX_TOKENS
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                stamps.append(time.perf_counter())
    return timing(start, stamps[0], stamps[-1], len(stamps))


async def app_timing(client: httpx.AsyncClient, base: str) -> StreamTiming:
    """A reply streamed through the chatbot app, in a new conversation."""
    start = time.perf_counter()
    reply, first, last = "", 0.0, 0.0
    data = [CHAT_MESSAGE, "", 0.7, CHAT_MAX_TOKENS]
    async for event, payload in call_events(client, base, "chat", data, uuid.uuid4().hex):
        if event == "error":
            raise RuntimeError(f"the chatbot failed: {payload}")
        text = payload[0] if event in ("generating", "complete") and isinstance(payload[0], str) else reply
        if text != reply:
            last = time.perf_counter()
            first = first or last
            reply = text
    return timing(start, first, last, len(chat_tokens(reply)))


def timing(start: float, first: float, last: float, tokens: int) -> StreamTiming:
    return StreamTiming(first - start, (tokens - 1) / (last - first) if last > first else 0.0)


async def stream_timings(endpoint: str, base: str) -> tuple[list[StreamTiming], list[StreamTiming]]:
    """CHATS replies each way, taking turns so that a busy moment hits both; one warm-up each first."""
    direct: list[StreamTiming] = []
    through_app: list[StreamTiming] = []
    async with httpx.AsyncClient(timeout=CHAT_TIMEOUT) as client:
        for _ in range(CHATS + 1):
            direct.append(await asyncio.wait_for(direct_timing(endpoint), CHAT_TIMEOUT))
            through_app.append(await asyncio.wait_for(app_timing(client, base), CHAT_TIMEOUT))
    return direct[1:], through_app[1:]


def measure_streaming(
    environ: dict[str, str], args: argparse.Namespace
) -> tuple[list[StreamTiming], list[StreamTiming]]:
    with app_process(AppSpec("chatbot", "chatbot"), environ, args.latency) as app:
        timings = asyncio.run(stream_timings(environ["HF_API_CHAT_BASE"], app.url))
    print("  measured chatbot streaming", flush=True)
    return timings


# Reporting


def throughput(result: LoadResult) -> float:
    return len(result.latencies) / result.elapsed if result.elapsed else 0.0


def of_ideal(result: LoadResult, latency: float) -> float:
    """Throughput over users / latency: what a server adding nothing to the backend would reach."""
    return throughput(result) * latency / result.users


def per_request_ms(cpu_seconds: float, result: LoadResult) -> float:
    return cpu_seconds / max(1, result.planned) * 1000


def load_table(results: Sequence[LoadResult], latency: float) -> str:
    rows = [
        "| app | users | requests | errors | req/s | / ideal | p50 ms | p95 ms "
        "| added p50 ms | added p95 ms | app CPU ms/req | client CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        p50, p95 = percentile(result.latencies, 0.5), percentile(result.latencies, 0.95)
        rows.append(
            f"| {result.label} | {result.users} | {result.planned} | {result.errors} "
            f"| {throughput(result):.1f} | {of_ideal(result, latency):.2f} "
            f"| {p50 * 1000:.0f} | {p95 * 1000:.0f} | {(p50 - latency) * 1000:.0f} "
            f"| {(p95 - latency) * 1000:.0f} | {per_request_ms(result.app_cpu, result):.1f} "
            f"| {per_request_ms(result.client_cpu, result):.1f} |"
        )
    return "\n".join(rows)


def stream_table(direct: Sequence[StreamTiming], through_app: Sequence[StreamTiming]) -> str:
    rows = [
        "| stream | replies | first token p50 ms | first token p95 ms | tokens/s p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, timings in (("straight from the server", direct), ("through the chatbot app", through_app)):
        firsts = [t.first_token for t in timings]
        rates = [t.tokens_per_second for t in timings]
        rows.append(
            f"| {label} | {len(timings)} | {percentile(firsts, 0.5) * 1000:.0f} "
            f"| {percentile(firsts, 0.95) * 1000:.0f} | {percentile(rates, 0.5):.1f} |"
        )
    return "\n".join(rows)


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def load_targets(results: Sequence[LoadResult], latency: float) -> list[str]:
    """The throughput and latency targets for each summarize row, and the CPU cost that bounds both.

    With uvloop and httptools installed (the requirements pin them), Gradio's own `launch()` serves on
    them, so that row is the app as shipped; the asyncio + h11 row shows what they bring.
    """
    ceiling = {result.label: result for result in results}[CEILING]
    lines = [f"- the ceiling reaches {of_ideal(ceiling, latency):.2f} of ideal"]
    for summarize in (result for result in results if result.label.startswith("summarize")):
        fraction = of_ideal(summarize, latency)
        added = (percentile(summarize.latencies, 0.5) - latency) * 1000
        # An app process runs Python on one core at a time: CPU per request sets how busy the target keeps it.
        target_rate = TARGET_FRACTION_OF_IDEAL * summarize.users / latency
        app_busy = target_rate * per_request_ms(summarize.app_cpu, summarize) / 1000
        lines.append(
            f"- {summarize.label}: {fraction:.2f} of ideal (target {TARGET_FRACTION_OF_IDEAL}: "
            f"{verdict(fraction >= TARGET_FRACTION_OF_IDEAL)}), {added:.0f} ms added at p50 "
            f"(target < {TARGET_ADDED_MS:.0f} ms: {verdict(added < TARGET_ADDED_MS)}); at "
            f"{target_rate:.0f} req/s its process would be {app_busy:.0%} busy"
        )
    return lines


def stream_targets(direct: Sequence[StreamTiming], through_app: Sequence[StreamTiming]) -> list[str]:
    first_direct = percentile([t.first_token for t in direct], 0.5)
    added = (percentile([t.first_token for t in through_app], 0.5) - first_direct) * 1000
    rate_ratio = statistics.median(t.tokens_per_second for t in through_app) / statistics.median(
        t.tokens_per_second for t in direct
    )
    return [
        f"- streaming adds {added:.0f} ms to the first token (target < {TARGET_ADDED_MS:.0f} ms): "
        f"{verdict(added < TARGET_ADDED_MS)}; tokens/s through the app / straight: {rate_ratio:.2f}",
    ]


def machine() -> str:
    return (
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, gradio {gr.__version__}, "
        f"uvicorn {uvicorn.__version__}"
    )


def load_average() -> str:
    """How busy other work kept the machine: above the number of cores, rounds wait for a core."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def report(
    args: argparse.Namespace,
    results: Sequence[LoadResult],
    streams: tuple[Sequence[StreamTiming], Sequence[StreamTiming]],
    load_before: str,
) -> str:
    return "\n".join(
        [
            f"Machine: {machine()}; load average (1, 5, 15 min) before: {load_before}, "
            f"after: {load_average()}.",
            "",
            f"Backend latency {args.latency:g} s, chat token delay {args.token_delay:g} s; "
            f"each row is the best round of {args.rounds}.",
            "",
            load_table(results, args.latency),
            "",
            stream_table(*streams),
            "",
            *load_targets(results, args.latency),
            *stream_targets(*streams),
        ]
    )


DOCS_INTRO = """# Benchmarks

How many concurrent users one app process serves, and how much it adds to the model's own latency.
`scripts/bench.py` runs each app, the test inference server (`testing/inference_server.py`, which
answers after a fixed latency) and the simulated users in processes of their own. The users call the
REST API (`POST /gradio_api/call/<api_name>`, then read the result's event stream) one request after
another, each with a session and a connection of its own.

Reproduce with (the uvloop rows need `pip install uvloop httptools`):

    {command}

The numbers below come from a machine with {cores} CPU cores: each row is the best of several
rounds, since other work on the machine only ever slows a round down, but expect a few tenths of
difference in */ ideal* between runs. The CPU columns move much less.

Rows: *bare sleep (ceiling)* is a Gradio app whose handler only sleeps for the backend latency, at
unlimited concurrency: Gradio's own cost, the most any app can reach. *summarize* is the real app on
its remote backend. *on uvloop + httptools* serves the same app with those event loop and HTTP
implementations (the requirements pin both, and Gradio's `launch()` then uses them, so `python
app.py` serves that way); *queue status every 1 s* sends queue status on a timer instead of after every job;
*naive* is the pattern of the course notes: a sync handler calling a sync `InferenceClient`, at
Gradio's default of one request at a time per event.

Columns: *users* call at the same time; *requests* is how many they sent in all; *errors* ended in
anything but the expected answer; *req/s* counts good answers per second; */ ideal* divides that by
users / latency, what a server adding nothing would reach; *p50* and *p95* are end-to-end latencies;
*added* is the same minus the backend latency; *app CPU ms/req* is the app process's CPU time per
request, and *client CPU ms/req* the load generator's. For streaming, *first token* is the time from
sending the message to the first non-empty text, and *tokens/s* the rate after it.
"""


def write_docs(argv: Sequence[str], text: str) -> None:
    command = " ".join(["python scripts/bench.py", *(arg for arg in argv if arg != "--write-docs")])
    DOCS.parent.mkdir(exist_ok=True)
    DOCS.write_text(f"{DOCS_INTRO.format(command=command, cores=os.cpu_count())}\n## Results\n\n{text}\n")
    print(f"Wrote {DOCS.relative_to(ROOT)}")


# Command line


ALTERNATIVE_SERVER = "other than asyncio + h11: adds ceiling and summarize rows served with it"


def app_specs(args: argparse.Namespace) -> list[AppSpec]:
    specs = [AppSpec(CEILING, "sleep"), AppSpec("summarize", "summarize")]
    if (args.loop, args.http) != ("asyncio", "h11"):
        server = f" on {args.loop} + {args.http}"
        specs.append(AppSpec(CEILING + server, "sleep", args.loop, args.http))
        specs.append(AppSpec("summarize" + server, "summarize", args.loop, args.http))
    if args.status_update_rate is not None:
        specs.append(
            AppSpec(
                f"summarize, queue status every {args.status_update_rate:g} s",
                "summarize",
                status_update_rate=args.status_update_rate,
            )
        )
    if not args.skip_naive:
        specs.append(AppSpec("naive: sync handler, concurrency 1", "naive"))
    return specs


def at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=at_least(1), default=24, help="concurrent users (default 24)")
    parser.add_argument("--requests", type=at_least(10), default=10, help="requests per user (default 10)")
    parser.add_argument("--latency", type=float, default=0.3, help="backend latency in seconds (default 0.3)")
    parser.add_argument("--token-delay", type=float, default=0.02, help="seconds between chat tokens")
    parser.add_argument("--rounds", type=at_least(1), default=3, help="rounds per app; the best is shown")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the slow one-at-a-time app")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio", help=ALTERNATIVE_SERVER)
    parser.add_argument("--http", choices=["h11", "httptools"], default="h11", help=ALTERNATIVE_SERVER)
    parser.add_argument(
        "--status-update-rate",
        type=float,
        help="adds a summarize row whose queue sends status updates every this many seconds",
    )
    parser.add_argument("--write-docs", action="store_true", help=f"also write {DOCS.relative_to(ROOT)}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    load_before = load_average()
    print(f"Machine: {machine()}; load average (1, 5, 15 min): {load_before}", flush=True)
    inference_server = spawned("the test inference server", serve_inference, args.latency, args.token_delay)
    with inference_server as (_, environ):
        results = [measure_load(spec, environ, args) for spec in app_specs(args)]
        streams = measure_streaming(environ, args)
    text = report(args, results, streams, load_before)
    print(f"\n{text}")
    if args.write_docs:
        write_docs(argv, text)


if __name__ == "__main__":
    main()
