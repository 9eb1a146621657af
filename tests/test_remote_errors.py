"""What a visitor reads when a remote backend fails: the server's own reason, and the setting to check.

Responses are built here rather than served, to cover the error bodies of servers the test inference
server does not imitate (TGI, vLLM, OpenAI, llama.cpp, gateways); huggingface_hub's own
`hf_raise_for_status` turns each into the exception InferenceClient raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
import httpx2
import pytest
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import hf_raise_for_status

from common.backends import remote
from common.backends.remote import RemoteBackend, translate_error
from common.errors import InputRejectedError, ModelRejectedError, UnsupportedModelError
from common.settings import TaskSettings
from common.tasks.ner import NerTask
from testing.apps import settings_from

TOKEN = "hf_remote_errors_secret_0123456789"
PRIVATE_URL = "http://10.0.0.5:8080"
CHAT_ENDPOINT = settings_from({"HF_API_CHAT_BASE": PRIVATE_URL, "HF_TOKEN": TOKEN}).chat
SUMMARY_ENDPOINT = settings_from({"HF_API_SUMMARY_BASE": PRIVATE_URL, "HF_TOKEN": TOKEN}).summarize
CHAT_PROVIDERS = settings_from({"HF_TOKEN": TOKEN}).chat
ON_PROVIDERS = "Qwen/Qwen2.5-7B-Instruct on Hugging Face inference providers"


def http_error(status: int, **response: Any) -> HfHubHTTPError:
    """The exception huggingface_hub raises for this response."""
    request = httpx2.Request("POST", f"{PRIVATE_URL}/v1/chat/completions")
    with pytest.raises(HfHubHTTPError) as caught:
        hf_raise_for_status(httpx2.Response(status, request=request, **response))
    return caught.value


def message(error: Exception, config: TaskSettings) -> str:
    return translate_error(error, config, TOKEN).describe("en")


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ({"json": {"error": "inputs must not be empty"}}, "HTTP 400: inputs must not be empty"),
        ({"json": {"error": ["first reason", "second reason"]}}, "HTTP 400: first reason; second reason"),
        ({"json": {"detail": "Request body is too large"}}, "HTTP 400: Request body is too large"),
        (
            {"json": {"object": "error", "message": "max_tokens must be at least 1, got 0.", "code": 400}},
            "HTTP 400: max_tokens must be at least 1, got 0.",
        ),
        (
            {
                "json": {
                    "error": {"code": 400, "message": "the request exceeds the context size", "type": "x"}
                }
            },
            "HTTP 400: the request exceeds the context size",
        ),
        (
            {
                "json": {
                    "detail": [
                        {"loc": ["body", "max_tokens"], "msg": "Input should be greater than 0"},
                        {"loc": ["body", "messages"], "msg": "Field required"},
                    ]
                }
            },
            "HTTP 400: body.max_tokens: Input should be greater than 0; body.messages: Field required",
        ),
        (
            {"text": "prompt is too long", "headers": {"content-type": "text/plain"}},
            "HTTP 400: prompt is too long",
        ),
        ({"headers": {"X-Error-Message": "Input validation error"}}, "HTTP 400: Input validation error"),
        ({"html": "<html><body><h1>400 Bad Request</h1></body></html>"}, "HTTP 400"),
        (
            {"json": {"error": f"upstream {PRIVATE_URL}/v1 refused the request"}},
            "HTTP 400: upstream <URL> refused the request",
        ),
    ],
)
def test_the_reason_is_read_from_every_shape_of_error_body(response, expected):
    assert message(http_error(400, **response), SUMMARY_ENDPOINT) == (
        f"the summarization endpoint rejected the input ({expected}). Shorten or change the input and "
        "try again."
    )


def test_a_reason_that_names_the_model_points_at_the_model_variable():
    error = http_error(400, json={"detail": "Server is pinned to 'X'; requested 'Qwen/Qwen2.5-7B-Instruct'."})

    assert message(error, CHAT_ENDPOINT) == (
        "the chat endpoint rejected the requested model (HTTP 400: Server is pinned to 'X'; requested "
        "'Qwen/Qwen2.5-7B-Instruct'.). Check CHAT_MODEL: set it to a model the server serves."
    )


def test_a_reason_about_the_input_is_not_taken_for_one_about_the_model():
    error = http_error(400, json={"error": "Input is too long for this model, shorten your input"})

    assert message(error, CHAT_ENDPOINT) == (
        "the chat endpoint rejected the input (HTTP 400: Input is too long for this model, shorten your "
        "input). Shorten or change the input and try again."
    )


def test_through_providers_the_hints_name_the_model_and_the_provider():
    not_found = http_error(404, json={"error": "Model not found"})
    refused = http_error(400, json={"error": "Qwen/Qwen2.5-7B-Instruct is not served by provider x"})

    assert message(not_found, CHAT_PROVIDERS) == (
        f"{ON_PROVIDERS} was not found (HTTP 404: Model not found). Check CHAT_MODEL (the model id) and "
        "HF_PROVIDER (the provider that serves it)."
    )
    assert message(refused, CHAT_PROVIDERS) == (
        f"{ON_PROVIDERS} rejected the requested model (HTTP 400: Qwen/Qwen2.5-7B-Instruct is not served by "
        "provider x). Check CHAT_MODEL (the model id) and HF_PROVIDER (the provider that serves it)."
    )


def test_an_unreachable_provider_points_at_the_connection_not_a_url():
    error = httpx2.ConnectError("[Errno -3] Temporary failure in name resolution")

    assert message(error, CHAT_PROVIDERS) == (
        f"Could not connect to {ON_PROVIDERS} ([Errno -3] Temporary failure in name resolution). Check "
        "this machine's internet connection."
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (
            401,
            "the chat endpoint refused the request (HTTP 401: Invalid token ***). Set HF_TOKEN to a valid "
            "token from https://huggingface.co/settings/tokens with permission to call Inference Providers; "
            "for a gated model, accept its licence on the model page first.",
        ),
        (
            429,
            "the chat endpoint is rate-limiting requests (HTTP 429: Invalid token ***). Wait a minute and "
            "try again; a Hugging Face token (HF_TOKEN, or signing in) raises the limit, and a dedicated "
            "endpoint removes it.",
        ),
        (
            500,
            "the chat endpoint failed (HTTP 500: Invalid token ***). This is on the server's side: try again "
            "in a moment.",
        ),
    ],
)
def test_every_status_keeps_the_reason_but_never_the_token(status, expected):
    error = http_error(status, json={"detail": f"Invalid token {TOKEN}"})

    assert message(error, CHAT_ENDPOINT) == expected


def test_the_visitors_error_keeps_the_librarys_as_its_cause():
    error = http_error(400, json={"detail": "Server is pinned to 'X'; requested 'Qwen/Qwen2.5-7B-Instruct'."})

    async def refused(_client: object) -> None:
        raise error

    with pytest.raises(ModelRejectedError) as caught:
        asyncio.run(RemoteBackend(CHAT_ENDPOINT, TOKEN).call(refused))
    assert caught.value.__cause__ is error


def test_a_value_error_of_this_code_stays_a_bug_and_the_librarys_names_the_model():
    async def buggy(_client: object) -> None:
        raise ValueError("a bug in the request code")

    async def unmapped(client: Any) -> None:
        await client.chat_completion([{"role": "user", "content": "Hi"}], model="nobody/no-such-chat-model")

    with pytest.raises(ValueError, match="a bug in the request code"):
        asyncio.run(RemoteBackend(CHAT_PROVIDERS, TOKEN).call(buggy))
    assert remote.raised_by_library(ValueError("made here")) is False
    with pytest.raises(ValueError) as caught:
        asyncio.run(unmapped(AsyncInferenceClient(provider="nobody-such-provider", token=TOKEN)))
    assert remote.raised_by_library(caught.value) is True
    assert isinstance(translate_error(caught.value, CHAT_PROVIDERS, TOKEN), UnsupportedModelError)


def test_a_retry_is_told_through_the_notifier_the_backend_was_given(monkeypatch):
    monkeypatch.setattr(remote, "RETRY_DELAY", 0.01)
    notes: list[tuple[str, dict[str, Any]]] = []
    replies = iter([http_error(500, json={"error": "busy"}), None])

    async def busy_once(_client: object) -> str:
        if (error := next(replies)) is not None:
            raise error
        return "answer"

    backend = RemoteBackend(CHAT_ENDPOINT, TOKEN, lambda key, **fields: notes.append((key, fields)))

    assert asyncio.run(backend.call(busy_once)) == "answer"
    assert notes == [("note_retrying", {"where": "the chat endpoint", "seconds": 0.01})]


def test_the_task_keeps_the_failure_as_the_cause_of_the_message_it_shows(monkeypatch):
    task = NerTask(settings_from({"HF_API_NER_BASE": PRIVATE_URL, "HF_TOKEN": TOKEN}))
    error = http_error(400, json={"error": "inputs must not be empty"})

    async def refused(_client: object) -> None:
        raise error

    monkeypatch.setattr(
        task.backend, "classify_tokens", lambda _text, token: task.backend.call(refused, token)
    )
    with pytest.raises(gr.Error) as caught:
        asyncio.run(task.analyse("Andrew lives in Paris"))

    # The chain is for the operator's debugger; Gradio prints no traceback of it and shows the message only.
    assert caught.value.message == (
        "the entity recognition endpoint rejected the input (HTTP 400: inputs must not be empty). "
        "Shorten or change the input and try again."
    )
    assert caught.value.print_exception is False
    assert isinstance(caught.value.__cause__, InputRejectedError)
    assert caught.value.__cause__.__cause__ is error
