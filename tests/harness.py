"""Launch a space's app in-process and drive it through `gradio_client`, as a user's script would."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from gradio_client import Client

from common.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SPACES = ("summarize", "ner", "caption", "imagegen", "game", "chatbot")


@cache
def load_app(name: str) -> ModuleType:
    """Import `spaces/<name>/app.py` under a unique module name (every app is called `app`)."""
    spec = importlib.util.spec_from_file_location(f"{name}_app", ROOT / "spaces" / name / "app.py")
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
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, max_file_size="25mb")
    try:
        yield Client(demo.local_url, verbose=False)
    finally:
        demo.close()
