"""One thread per loaded model: every use of a model runs there, one call after another, and calls of
one kind that wait together run as one batch.

A model is shared by every event and every app of the process that uses it, and it is not safe to
use from two threads at once: a fast tokenizer raises "Already borrowed" when two calls change its
truncation, and two forward passes at once only make both slower. Giving each model one thread
makes that impossible by construction, and makes batching free: a call never waits for others to
arrive (a single visitor is served at once), while the calls that arrive while the model is busy go
together in the next batch.

Each call runs in the context of the request that made it (a batch in its first request's), so a
model download tracks the progress bar of the visitor whose request started it, and ZeroGPU charges
that visitor's quota.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from common.backends import zero_gpu
from common.errors import InferenceError

logger = logging.getLogger("common")

T = TypeVar("T")
Item = TypeVar("Item")
Result = TypeVar("Result")

# A load that failed is not tried again for a minute: every visitor in that minute gets the same
# reason at once instead of waiting for the same failure.
FAILED_LOAD_MEMORY = 60.0

ModelKey = tuple[str, ...]
Explain = Callable[[Callable[[], T]], T]
"""Runs an action and translates its library's exceptions into `InferenceError`s."""


@dataclass(frozen=True)
class Job(Generic[Item]):
    """What a call asks of the model.

    `work` is a module-level function `(model, items) -> results`, one result per item, or for a
    streaming job `(model, item) -> iterator of pieces`; module-level, so that on ZeroGPU it can be
    named to the GPU process. `kind` names the calls that may share one batch (same work, same
    settings); None never batches. `gpu_seconds` is how long one item may hold a GPU on ZeroGPU; 0 for
    work that needs no GPU (counting tokens), which then always runs in this process.
    """

    work: Callable[..., Any]
    item: Item
    kind: Hashable | None = None
    max_batch: int = 1
    gpu_seconds: float = 0.0


@dataclass
class _Call:
    job: Job[Any]
    future: Future[Any]
    on_piece: Callable[[Any], None] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class ModelWorker:
    """The thread that owns one model: loads it on first use, then runs calls one batch at a time."""

    def __init__(self, key: ModelKey, load: Callable[[], Any], explain: Explain[Any]) -> None:
        self.key = key
        self._load = load
        self._explain = explain
        self._model: Any = None
        self._failure: tuple[float, InferenceError] | None = None
        self._calls: deque[_Call] = deque()
        self._wake = threading.Condition()
        self.batch_sizes: list[int] = []
        """The size of every batch run so far, for tests and benchmarks."""
        threading.Thread(target=self._serve, name=f"model {key[-1]}", daemon=True).start()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def submit(self, job: Job[Any]) -> Future[Any]:
        """Queue `job`; the future holds its result, or the exception that ended it."""
        return self._queue(_Call(job, Future())).future

    async def run(self, job: Job[Any]) -> Any:
        """The result of `job`, awaited without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(job))

    async def stream(self, job: Job[Any]) -> AsyncIterator[Any]:
        """The pieces of a streaming job as they come. Closing the iterator (the visitor pressed
        stop) ends the work at its next piece, or before it starts if it still waits its turn."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[Any] = asyncio.Queue()
        call = self._queue(_Call(job, Future(), on_piece=lambda piece: _put(loop, pieces, piece)))
        call.future.add_done_callback(lambda _: _put(loop, pieces, _END))
        try:
            while (piece := await pieces.get()) is not _END:
                yield piece
            call.future.result()  # the failure that ended the stream, with its own cause
        finally:
            call.cancelled.set()
            call.future.cancel()

    def _queue(self, call: _Call) -> _Call:
        with self._wake:
            self._calls.append(call)
            self._wake.notify()
        return call

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            self._run_batch(batch)

    def _next_batch(self) -> list[_Call]:
        """The oldest waiting call, with every later waiting call of its kind, up to its batch size."""
        with self._wake:
            while not self._calls:
                self._wake.wait()
            first = self._calls.popleft()
            batch = [first]
            if first.job.kind is not None:
                for call in list(self._calls):
                    if len(batch) >= first.job.max_batch:
                        break
                    if call.job.kind == first.job.kind:
                        self._calls.remove(call)
                        batch.append(call)
            return batch

    def _run_batch(self, batch: list[_Call]) -> None:
        live = [call for call in batch if call.future.set_running_or_notify_cancel()]
        if not live:
            return
        first = live[0]
        try:
            model = first.context.run(self._model_or_raise)
        except BaseException as error:  # every waiting caller learns why at once
            for call in live:
                call.future.set_exception(error)
            return
        self.batch_sizes.append(len(live))
        if first.on_piece is not None:
            first.context.run(self._run_stream, model, first)
        elif len(live) == 1:
            first.context.run(self._run_alone, model, first)
        else:
            items = [call.job.item for call in live]
            try:
                results = first.context.run(self._explain, lambda: self._on_device(model, first.job, items))
            except BaseException as error:
                # One item may be what failed (an image that does not decode): each alone gets its
                # own result or its own error.
                logger.info(
                    "A batch of %d on %s failed (%s); running it one by one", len(live), self.key[-1], error
                )
                for call in live:
                    call.context.run(self._run_alone, model, call)
            else:
                for call, result in zip(live, results, strict=True):
                    call.future.set_result(result)

    def _run_alone(self, model: Any, call: _Call) -> None:
        try:
            (result,) = self._explain(lambda: self._on_device(model, call.job, [call.job.item]))
        except BaseException as error:
            call.future.set_exception(error)
        else:
            call.future.set_result(result)

    def _run_stream(self, model: Any, call: _Call) -> None:
        assert call.on_piece is not None
        on_piece = call.on_piece

        def forward() -> None:
            job = call.job
            if _needs_zero_gpu(job):
                stream = zero_gpu.stream(self.key, job.work, job.item, job.gpu_seconds)
            else:
                stream = job.work(model, job.item)
            try:
                for piece in stream:
                    if call.cancelled.is_set():
                        break
                    on_piece(piece)
            finally:
                stream.close()  # ends the generation, in this thread, before the next call runs

        try:
            self._explain(forward)
        except BaseException as error:
            call.future.set_exception(error)
        else:
            call.future.set_result(None)

    def _on_device(self, model: Any, job: Job[Any], items: list[Any]) -> list[Any]:
        """Run the work here, or in ZeroGPU's GPU process when it needs a GPU on a ZeroGPU Space."""
        if _needs_zero_gpu(job):
            return zero_gpu.run(self.key, job.work, items, job.gpu_seconds * len(items))
        return job.work(model, items)

    def _model_or_raise(self) -> Any:
        if self._model is not None:
            return self._model
        if self._failure is not None and time.monotonic() - self._failure[0] < FAILED_LOAD_MEMORY:
            raise self._failure[1]
        try:
            self._model = self._explain(self._load)
        except InferenceError as error:
            self._failure = (time.monotonic(), error)
            raise
        zero_gpu.register(self.key, self._model)
        return self._model


_END = object()


def _needs_zero_gpu(job: Job[Any]) -> bool:
    """Whether the job's work goes to ZeroGPU's GPU process: it needs a GPU, on a ZeroGPU Space."""
    return bool(job.gpu_seconds) and zero_gpu.enabled()


def _put(loop: asyncio.AbstractEventLoop, pieces: asyncio.Queue[Any], piece: Any) -> None:
    """Hand a piece from the model's thread to the event loop that reads the stream."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(pieces.put_nowait, piece)


class ModelCache:
    """The worker of each model by key, each created (and its model loaded) once per process."""

    def __init__(self) -> None:
        self._workers: dict[ModelKey, ModelWorker] = {}
        self._guard = threading.Lock()

    def worker(self, key: ModelKey, load: Callable[[], Any], explain: Explain[Any]) -> ModelWorker:
        with self._guard:
            if key not in self._workers:
                self._workers[key] = ModelWorker(key, load, explain)
            return self._workers[key]

    def loaded(self) -> list[ModelKey]:
        """Keys of the models loaded so far in this process."""
        with self._guard:
            return [key for key, worker in self._workers.items() if worker.loaded]


MODELS = ModelCache()
