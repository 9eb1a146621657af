"""Launch a space's app in-process and drive it through `gradio_client`, as a user's script would."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
import uvicorn
from gradio_client import Client

from common.settings import Settings, load_settings
from common.ui import served_options

ROOT = Path(__file__).resolve().parent.parent
SPACES = ("summarize", "ner", "caption", "imagegen", "game", "chatbot")


@cache
def load_app(name: str) -> ModuleType:
    """Import `spaces/<name>/app.py` under a unique module name (every app is called `app`)."""
    return load_module(f"{name}_app", ROOT / "spaces" / name / "app.py")


@cache
def load_serve_all() -> ModuleType:
    """`scripts/serve.py`, imported from its file (`scripts/` is not a package)."""
    return load_module("serve_all", ROOT / "scripts" / "serve.py")


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Settings from exactly these variables: no `.env`, no process environment."""
    return load_settings(environ, dotenv_path=os.devnull)


def app_fixture(name: str, settings_fixture: str) -> Callable[..., Iterator[Client]]:
    """A module-scoped fixture serving app `name` built with the settings of `settings_fixture`."""

    @pytest.fixture(scope="module")
    def client(request: pytest.FixtureRequest) -> Iterator[Client]:
        with running_app(name, request.getfixturevalue(settings_fixture)) as connected:
            yield connected

    return client


@contextmanager
def running_app(name: str, settings: Settings) -> Iterator[Client]:
    """The app built with `settings`, served on a free local port, with a client connected to it."""
    demo = load_app(name).build_demo(settings)
    demo.launch(
        prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **served_options(mcp_server=False)
    )
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()


@contextmanager
def launched_apps(settings: Settings, mcp_server: bool = True) -> Iterator[dict[str, str]]:
    """Each app launched alone, as `python spaces/<name>/app.py` does; yields name -> base URL."""
    demos = {name: load_app(name).build_demo(settings) for name in SPACES}
    try:
        for demo in demos.values():
            demo.launch(prevent_thread_lock=True, quiet=True, **served_options(mcp_server=mcp_server))
        yield {name: demo.local_url for name, demo in demos.items()}
    finally:
        for demo in demos.values():
            demo.close()


@contextmanager
def serving(app: object, start_timeout: float = 30.0, stop_timeout: float = 5.0) -> Iterator[str]:
    """An ASGI app (serve-all's, say) served by uvicorn on a free local port; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=stop_timeout))
    # With IPPROTO_TCP asyncio sets TCP_NODELAY, so streamed chunks are not held back by delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start listening")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(stop_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(stop_timeout)
        sock.close()
