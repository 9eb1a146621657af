"""Test isolation and shared fixtures.

Nothing leaves the machine: telemetry and analytics are off, the Hugging Face cache and Gradio's
temp folder are private to the run, and every server listens on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

_RUN_DIR = Path(tempfile.mkdtemp(prefix="genai-spaces-tests-"))
os.environ.update(
    {
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HOME": str(_RUN_DIR / "hf-home"),
        "GRADIO_TEMP_DIR": str(_RUN_DIR / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_SERVER_NAME": "127.0.0.1",
    }
)
for _name in ("HF_TOKEN", "HF_API_KEY", "GRADIO_SHARE"):
    os.environ.pop(_name, None)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import huggingface_hub.constants  # noqa: E402
import pytest  # noqa: E402
from huggingface_hub.inference._providers import CONVERSATIONAL_AUTO_ROUTER  # noqa: E402

from common.settings import Settings  # noqa: E402
from scripts import serve  # noqa: E402
from scripts.serving import serving  # noqa: E402
from testing.apps import settings_from  # noqa: E402
from testing.browser import TOKEN as BROWSER_TOKEN  # noqa: E402
from testing.browser import chromium, fresh_page  # noqa: E402
from testing.inference_server import InferenceTestServer  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from testing.tiny_models import TinyModels

TEST_TOKEN = "hf_test_secret_token_0123456789"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    """Random-weight models of the real architectures, built once per run (about a second).

    Imported here, not at the top: torch and friends take seconds to import, and only the
    local-backend tests need them.
    """
    from testing.tiny_models import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def local_settings(tiny_models: TinyModels) -> Settings:
    """Every task in process, on its tiny model."""
    return settings_from(
        {
            "INFERENCE_BACKEND": "local",
            "SUMMARY_MODEL": str(tiny_models.summarize),
            "NER_MODEL": str(tiny_models.ner),
            "CAPTION_MODEL": str(tiny_models.caption),
            "IMAGEGEN_MODEL": str(tiny_models.imagegen),
            "CHAT_MODEL": str(tiny_models.chat),
        }
    )


@pytest.fixture(scope="session")
def remote_settings(inference_server: InferenceTestServer) -> Settings:
    """Every task at the test inference server, with a timeout that a busy test machine keeps."""
    return settings_from({**inference_server.env(), "HF_TOKEN": TEST_TOKEN, "INFERENCE_TIMEOUT": "10"})


@pytest.fixture
def hub_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forbid Hub requests, so a load that would look beyond its directory fails instead.

    huggingface_hub reads HF_HUB_OFFLINE once at import, so the flag it already read is patched too.
    """
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session")
def inference_server() -> Iterator[InferenceTestServer]:
    """One test inference server for the run; faults and records are reset for every test."""
    with InferenceTestServer() as server:
        yield server


@pytest.fixture
def server(inference_server: InferenceTestServer) -> Iterator[InferenceTestServer]:
    inference_server.reset()
    yield inference_server
    inference_server.reset_faults()


@pytest.fixture
def routed_to_test_server(
    server: InferenceTestServer, monkeypatch: pytest.MonkeyPatch
) -> InferenceTestServer:
    """Hugging Face's chat router, stood in for by the test server.

    Calls by hub id go to the router, which picks a provider for the model named in the payload;
    here they reach the test server instead, so the model a visitor picked can be read off the request.
    """
    monkeypatch.setattr(CONVERSATIONAL_AUTO_ROUTER, "base_url", server.endpoint("chat"))
    return server


# The browser tests' fixtures: a module's Chromium, a fresh page for each test, and the apps it opens.


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Shared by the module: launching Chromium costs more than a fresh profile."""
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def apps_url(inference_server: InferenceTestServer) -> Iterator[str]:
    """Serve-all's app on a free local port, every task of every app sent to the test inference server.

    A module that opens one app alone overrides this fixture."""
    app = serve.build_app(settings_from({**inference_server.env(), "HF_TOKEN": BROWSER_TOKEN}))
    with serving(app) as served:
        serve.set_local_urls(app, served.url)
        yield served.url


@pytest.fixture
def page(browser: Browser, apps_url: str, server: InferenceTestServer) -> Iterator[Page]:
    """A fresh browser profile on the apps, with the test server reset."""
    with fresh_page(browser, apps_url) as fresh:
        yield fresh
