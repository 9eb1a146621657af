"""Launch a space's app in this process and connect `gradio_client` to it, as a user's script would."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from gradio_client import Client

from common.settings import Settings, load_settings
from common.ui import served_options
from scripts.serve import APPS, load_app


def settings_from(environ: Mapping[str, str]) -> Settings:
    """Settings from exactly these variables: no `.env`, no process environment."""
    return load_settings(environ, dotenv_path=os.devnull)


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
    demos = {name: load_app(name).build_demo(settings) for name in APPS}
    try:
        for demo in demos.values():
            demo.launch(prevent_thread_lock=True, quiet=True, **served_options(mcp_server=mcp_server))
        yield {name: demo.local_url for name, demo in demos.items()}
    finally:
        for demo in demos.values():
            demo.close()
