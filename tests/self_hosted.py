"""What the tests of the chatbot against self-hosted chat servers share."""

from __future__ import annotations

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from common.settings import Settings
from testing.apps import settings_from
from testing.inference_server import SERVED_MODEL
from tests.conftest import TEST_TOKEN

SYSTEM = "Be brief."


def endpoint_settings(url: str, **extra: str) -> Settings:
    """The chatbot's settings for a chat server at `url` serving SERVED_MODEL."""
    return settings_from(
        {"HF_API_CHAT_BASE": url, "CHAT_MODEL": SERVED_MODEL, "HF_TOKEN": TEST_TOKEN, **extra}
    )


def failure(client: Client, message: str, max_tokens: int) -> str:
    """The message the chatbot refuses `message` with."""
    with pytest.raises(AppError) as refused:
        client.predict(message, SYSTEM, 0.7, max_tokens, api_name="/chat")
    return str(refused.value)
