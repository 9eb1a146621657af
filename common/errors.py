"""Failures described for a person: what happened, where, and what to do next.

Backends translate their library's exceptions into these types; the task layer turns them into
`gr.Error`, so a visitor never sees a traceback or Gradio's generic "upstream app" message.
Messages come from the catalog in `common/locales/`, in the visitor's language; logs stay in English.
"""

from __future__ import annotations

import html
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import gradio as gr
from gradio.utils import get_space

from common.i18n import DEFAULT_LANGUAGE, catalog, text
from common.request_context import current_request

logger = logging.getLogger("common")


@dataclass(frozen=True)
class Phrase:
    """Catalog text for a detail of our own wording, translated when the message is shown."""

    key: str
    fields: dict[str, Any] = field(default_factory=dict)

    def render(self, language: str | None) -> str:
        return text(self.key, language, **self.fields)


def phrase(key: str, **fields: Any) -> Phrase:
    return Phrase(key, fields)


Detail = str | Phrase
"""What the server said (kept verbatim) or what we observed (a `Phrase`)."""


class InferenceError(Exception):
    """Base of every backend failure. `where` names the backend (never with credentials).

    `hint` is the sentence that names the setting an operator should check (`CHAT_MODEL`,
    `HF_API_CHAT_BASE`): which one depends on the task and on where it runs, so the backend that
    knows them chooses it, and messages whose advice depends on it end with `{hint}`. `numbers` are
    the message's own figures (a timeout, a context window), by their placeholders' names.

    A message that advises the operator (a setting, a token) has a `<key>_visitor` twin in the
    catalog that says only what a visitor can do; `describe(for_operator=False)` reads it.
    """

    key: ClassVar[str]
    # A visitor who signs in (on a Space) calls the model on their own token, which fixes this.
    sign_in_helps: ClassVar[bool] = False

    def __init__(
        self, where: str, detail: Detail = "", *, hint: Phrase | None = None, **numbers: float
    ) -> None:
        self.where = where
        self.detail = detail
        self.hint = hint
        self.numbers = numbers
        super().__init__(self.describe(DEFAULT_LANGUAGE))

    def fields(self, language: str | None) -> dict[str, Any]:
        detail = self.detail.render(language) if isinstance(self.detail, Phrase) else self.detail
        hint = self.hint.render(language) if self.hint else ""
        return {"where": self.where, "detail": detail, "hint": hint, **self.numbers}

    def describe(self, language: str | None = None, *, for_operator: bool = True) -> str:
        """The message in `language`, by default the language of the request being served; for a
        visitor, without the advice only the operator can follow."""
        key = self.key
        if not for_operator and f"{key}_visitor" in catalog()[DEFAULT_LANGUAGE]:
            key = f"{key}_visitor"
        return text(key, language, **self.fields(language))


class ModelLoadingError(InferenceError):
    key = "error_loading"

    def __init__(self, where: str, estimated_time: float | None = None) -> None:
        self.estimated_time = estimated_time
        super().__init__(where)

    def fields(self, language: str | None) -> dict[str, Any]:
        eta = text("error_loading_eta", language, seconds=self.estimated_time) if self.estimated_time else ""
        return {**super().fields(language), "eta": eta}


class RateLimitError(InferenceError):
    key = "error_rate_limit"
    sign_in_helps = True


class AuthenticationError(InferenceError):
    key = "error_auth"
    sign_in_helps = True


class ModelNotFoundError(InferenceError):
    key = "error_not_found"


class UnsupportedModelError(InferenceError):
    key = "error_unsupported"


class InputRejectedError(InferenceError):
    key = "error_input_rejected"


class ContextWindowExceededError(InputRejectedError):
    """The server refused the prompt as longer than the model's context window of `window` tokens:
    the conversation must get shorter, whatever the input's own words."""

    key = "error_over_window"

    def __init__(self, where: str, detail: Detail, window: int) -> None:
        super().__init__(where, detail, window=window)


class ModelRejectedError(InputRejectedError):
    """A request refused for the model it names, such as a server started for one model only:
    the fix is the model setting, not the visitor's input."""

    key = "error_model_rejected"


class BackendFailureError(InferenceError):
    key = "error_backend_failure"


class BackendTimeoutError(InferenceError):
    key = "error_timeout"

    def __init__(self, where: str, timeout: float) -> None:
        super().__init__(where, timeout=timeout)


class BackendUnreachableError(InferenceError):
    key = "error_unreachable"


class MalformedReplyError(InferenceError):
    key = "error_malformed"


class StreamInterruptedError(InferenceError):
    """The reply stream ended early; whatever arrived before the cut is kept by the caller."""

    key = "error_stream_cut"
    note_key: ClassVar[str] = "note_reply_cut"


class StreamEndedEarlyError(StreamInterruptedError):
    """The stream closed cleanly but never said the reply was finished (no finish reason)."""

    key = "error_stream_ended"


class ReplyFailedError(StreamInterruptedError):
    """The server answered 200, then sent an error event inside the stream (llama.cpp, vLLM and TGI
    do); `detail` holds its own words."""

    key = "error_reply_failed"
    note_key = "note_reply_failed"


class ReplyAtTokenLimitError(StreamInterruptedError):
    """The model stopped because the reply reached max_tokens: the text is whole but not finished."""

    key = "error_reply_at_limit"
    note_key = "note_reply_at_limit"

    def __init__(self, where: str, max_tokens: int) -> None:
        super().__init__(where, max_tokens=max_tokens)


class LocalRuntimeError(InferenceError):
    """The in-process backend cannot run: runtime not installed, model unavailable, out of memory."""

    key = "error_local_runtime"


def user_error(key: str, **fields: Any) -> gr.Error:
    """An error caused by the input: shown to the visitor, not logged as a server fault."""
    return _shown(text(key, **fields))


def log_note(key: str, **fields: Any) -> None:
    """A passing note, in English, to the log: the notifier of a backend that no app shows."""
    logger.info(text(key, DEFAULT_LANGUAGE, **fields))


def report(error: InferenceError) -> None:
    """One log line per backend failure, in English: its type and message, which never hold a token."""
    logger.warning("%s: %s", type(error).__name__, error)


def backend_error(error: InferenceError) -> gr.Error:
    """Report a backend failure and return the error to show, in the visitor's language.

    The log always has the operator's advice (`report`). The message has it only for the operator,
    that is for a request from this machine (`from_this_machine`); a visitor reads what they can
    do, and on a Space, where a visitor can sign in, that signing in helps when it does.
    """
    report(error)
    if from_this_machine():
        return _shown(error.describe())
    message = error.describe(for_operator=False)
    if error.sign_in_helps and get_space() is not None:
        message = f"{message} {text('visitor_sign_in')}"
    return _shown(message)


# Headers a reverse proxy or a tunnel (a share link's) adds to a request it passes on.
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


def from_this_machine() -> bool:
    """Whether the request being served is the operator's: the app does not run on a Space (no
    SPACE_ID), and the request came straight from this machine, addressed to it by a loopback name,
    through no proxy. A share link's requests reach the app from its tunnel on this machine, but
    name the share host and carry forwarding headers, so they are visitors'. Code that calls a task
    outside any request (a test, a script in this process) is the operator's too."""
    if get_space() is not None:
        return False
    request = current_request()
    if request is None:
        return True
    headers = request.headers
    if any(name in headers for name in FORWARDING_HEADERS):
        return False
    client = getattr(request, "client", None)
    host = urlsplit(f"//{headers.get('host', '')}").hostname or ""
    return client is not None and _loopback(client.host) and (host == "localhost" or _loopback(host))


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _shown(message: str) -> gr.Error:
    # Gradio renders error messages as HTML; servers' words must not become markup.
    return gr.Error(html.escape(message, quote=False), print_exception=False)
