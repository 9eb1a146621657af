"""Who reads the operator's advice in an error message: a request from this machine; never a visitor
on a Space, through a share link or a proxy, or from another machine (they read what they can do)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack

import gradio as gr
import pytest
from starlette.requests import Request

from common import request_context
from common.errors import (
    AuthenticationError,
    LocalRuntimeError,
    RateLimitError,
    backend_error,
    from_this_machine,
    phrase,
)

RATE_LIMITED = (
    "the chat endpoint is rate-limiting requests (HTTP 429: slow down). Wait a minute and try again"
)
OPERATOR_ADVICE = (
    "; a Hugging Face token (HF_TOKEN, or signing in) raises the limit, and a dedicated endpoint removes it."
)


def request(
    client: str = "127.0.0.1", host: str = "127.0.0.1:7860", headers: Sequence[tuple[str, str]] = ()
) -> gr.Request:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/gradio_api/queue/join",
        "client": (client, 50000),
        "headers": [(b"host", host.encode()), *((name.encode(), value.encode()) for name, value in headers)],
    }
    return gr.Request(request=Request(scope))


@pytest.fixture
def serving() -> Iterator[Callable[[gr.Request], None]]:
    """Serve the code under test as if handling `request(...)`."""
    with ExitStack() as stack:
        yield lambda handled: stack.enter_context(request_context.serving(handled))


@pytest.fixture(autouse=True)
def not_on_a_space(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYSTEM", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)


def on_a_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables a Space sets, which Gradio reads (`gradio.utils.get_space`)."""
    monkeypatch.setenv("SYSTEM", "spaces")
    monkeypatch.setenv("SPACE_ID", "someone/chatbot")


@pytest.mark.parametrize(
    ("client", "host", "headers"),
    [
        ("127.0.0.1", "127.0.0.1:7860", ()),
        ("127.0.0.1", "localhost:7860", ()),
        ("::1", "[::1]:7860", ()),
    ],
)
def test_a_request_straight_from_this_machine_is_the_operators(serving, client, host, headers):
    serving(request(client, host, headers))

    assert from_this_machine()


@pytest.mark.parametrize(
    ("client", "host", "headers"),
    [
        ("127.0.0.1", "0123456789abcdef.gradio.live", ()),
        ("127.0.0.1", "127.0.0.1:7860", (("x-forwarded-for", "203.0.113.7"),)),
        ("127.0.0.1", "127.0.0.1:7860", (("forwarded", "for=203.0.113.7"),)),
        ("192.168.1.20", "192.168.1.10:7860", ()),
        ("192.168.1.20", "127.0.0.1:7860", ()),
    ],
)
def test_a_request_from_elsewhere_is_a_visitors(serving, client, host, headers):
    serving(request(client, host, headers))

    assert not from_this_machine()


def test_on_a_space_every_request_is_a_visitors(serving, monkeypatch):
    on_a_space(monkeypatch)
    serving(request())

    assert not from_this_machine()


def test_code_that_calls_outside_any_request_is_the_operators():
    assert from_this_machine()


def test_the_operator_reads_the_setting_and_a_visitor_what_to_do(serving):
    error = RateLimitError("the chat endpoint", "HTTP 429: slow down")
    serving(request())
    assert backend_error(error).message == RATE_LIMITED + OPERATOR_ADVICE

    serving(request(headers=[("x-forwarded-for", "203.0.113.7")]))
    assert backend_error(error).message == RATE_LIMITED + "."


def test_a_visitor_on_a_space_is_told_that_signing_in_helps(serving, monkeypatch):
    on_a_space(monkeypatch)
    serving(request())

    assert backend_error(AuthenticationError("the chat endpoint", "HTTP 401: Invalid token")).message == (
        "the chat endpoint refused the request (HTTP 401: Invalid token). The app's owner has to fix its "
        "settings first: try again later. Signing in with Hugging Face (the button at the top) lets the app "
        "use your own quota."
    )


def test_a_chinese_visitor_reads_it_in_chinese(serving):
    serving(request(headers=[("x-forwarded-for", "203.0.113.7"), ("accept-language", "zh-CN")]))

    assert backend_error(RateLimitError("the chat endpoint", "HTTP 429: slow down")).message == (
        "the chat endpoint 正在限制请求频率（HTTP 429: slow down）。请等一分钟再试。"
    )


def test_a_visitor_is_not_told_how_to_configure_a_local_model(serving):
    error = LocalRuntimeError(
        "sshleifer/distilbart-cnn-12-6",
        phrase("detail_offline_not_downloaded", variable="SUMMARY_MODEL", endpoint="HF_API_SUMMARY_BASE"),
    )
    serving(request(headers=[("x-forwarded-for", "203.0.113.7")]))

    assert backend_error(error).message == (
        "The model sshleifer/distilbart-cnn-12-6 cannot run on this server right now; the reason is in the "
        "app's log for its owner. Try again later."
    )
