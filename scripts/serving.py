"""An ASGI app served by uvicorn on a background thread, for as long as a `with` block runs.

Serve-all runs its server this way, and so do the tests and the benchmarks, so that all of them start,
wait for and stop a server alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import uvicorn


class ServerNotStarted(RuntimeError):
    """uvicorn did not listen in time: the address is taken, or the app failed to start (logged)."""


@dataclass(frozen=True)
class Served:
    """A running server: its base URL and the thread it runs on."""

    url: str
    thread: threading.Thread

    def wait(self) -> None:
        """Block until the server stops or the user presses Ctrl+C."""
        with suppress(KeyboardInterrupt):
            while self.thread.is_alive():
                self.thread.join(timeout=0.5)


@contextmanager
def serving(
    app: object,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    loop: str = "auto",
    http: str = "auto",
    start_timeout: float = 30.0,
    stop_timeout: float = 5.0,
) -> Iterator[Served]:
    """Serve `app` on `host:port` (0: a free port) until the block ends.

    `loop` and `http` choose uvicorn's event loop and HTTP implementation; "auto" takes uvloop and
    httptools when installed, as `demo.launch()` does.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http=http,
        log_level="warning",
        timeout_graceful_shutdown=stop_timeout,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServerNotStarted(f"uvicorn did not start on {host}:{port}")
            time.sleep(0.02)
        bound_host, bound_port = server.servers[0].sockets[0].getsockname()[:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield Served(f"http://{url_host}:{bound_port}", thread)
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(stop_timeout)
