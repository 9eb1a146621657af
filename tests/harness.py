"""What the test modules share beyond conftest's fixtures: the spaces' names, app fixtures, their cards."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from gradio_client import Client

from common.settings import Settings
from testing.apps import running_app, settings_from
from testing.inference_server import InferenceTestServer

ROOT = Path(__file__).resolve().parent.parent
SPACES = ("summarize", "ner", "caption", "imagegen", "game", "chatbot")
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)


def app_fixture(name: str, settings_fixture: str) -> Callable[..., Iterator[Client]]:
    """A module-scoped fixture serving app `name` built with the settings of `settings_fixture`."""

    @pytest.fixture(scope="module")
    def client(request: pytest.FixtureRequest) -> Iterator[Client]:
        with running_app(name, request.getfixturevalue(settings_fixture)) as connected:
            yield connected

    return client


def app_fixtures(settings_fixture: str) -> tuple[Callable[..., Iterator[Client]], ...]:
    """An `app_fixture` for every space, in the order of SPACES, for a module that drives them all."""
    return tuple(app_fixture(name, settings_fixture) for name in SPACES)


def card(space: str) -> dict[str, Any]:
    """A space's Spaces card: the YAML front matter of its README."""
    text = (ROOT / "spaces" / space / "README.md").read_text(encoding="utf-8")
    match = FRONT_MATTER.match(text)
    assert match, f"spaces/{space}/README.md does not start with YAML front matter between --- lines"
    metadata = yaml.safe_load(match.group(1))
    assert isinstance(metadata, dict)
    return metadata


def hub_settings(server: InferenceTestServer, **extra: str) -> Settings:
    """Chat through Hugging Face's routing (no endpoint URL), every other task at the test server."""
    from tests.conftest import TEST_TOKEN

    environ = {name: value for name, value in server.env().items() if name != "HF_API_CHAT_BASE"}
    return settings_from({**environ, "HF_TOKEN": TEST_TOKEN, **extra})
