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

import pytest  # noqa: E402

from tests.inference_server import InferenceTestServer  # noqa: E402

TEST_TOKEN = "hf_test_secret_token_0123456789"


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
