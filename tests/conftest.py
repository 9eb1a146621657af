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

from testing.inference_server import InferenceTestServer  # noqa: E402

if TYPE_CHECKING:
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
    inference_server.reset_faults()
    inference_server.clear()
    inference_server.latency = 0.0
    inference_server.token_delay = 0.0
    inference_server.ner_shape = None
    yield inference_server
    inference_server.reset_faults()
