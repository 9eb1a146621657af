"""Remote backends: `AsyncInferenceClient` against inference providers or a self-hosted endpoint.

A URL target (`HF_API_*_BASE`) is called as given: non-chat tasks POST to exactly that URL, chat
goes to `URL/v1/chat/completions`. A hub model id goes through the configured provider.
Handlers are async so one process serves many visitors while requests wait on the network.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
from huggingface_hub import AsyncInferenceClient
from huggingface_hub.errors import HfHubHTTPError, InferenceTimeoutError, TextGenerationError
from PIL import Image, UnidentifiedImageError

from common.backends.base import ImageRequest, Notifier, StepCallback, Token
from common.backends.endpoint_info import ASKED_FOR_WINDOW, context_window_reported
from common.chat import PICTURE_TOKENS, Message, message_text, pictures_in
from common.chat_models import PROVIDER_CHAT_MODELS
from common.errors import (
    AuthenticationError,
    BackendFailureError,
    BackendTimeoutError,
    BackendUnreachableError,
    ContextWindowExceededError,
    InferenceError,
    InputRejectedError,
    MalformedReplyError,
    ModelLoadingError,
    ModelNotFoundError,
    ModelRejectedError,
    Phrase,
    RateLimitError,
    ReplyAtTokenLimitError,
    ReplyFailedError,
    StreamEndedEarlyError,
    StreamInterruptedError,
    UnsupportedModelError,
    log_note,
    phrase,
)
from common.images import EncodedImage
from common.reasoning import ReplyDelta, ThinkTagSplitter
from common.settings import ENDPOINT_VARIABLES, MODEL_VARIABLES, TaskSettings
from common.tool_calls import ToolCall, ToolCallParts

T = TypeVar("T")

logger = logging.getLogger("common")

# A loading model is waited for, but not longer than this in all, so a visitor is never left hanging.
LOADING_WAIT_LIMIT = 60.0
MAX_ATTEMPTS = 4
MAX_LOADING_DELAY = 20.0
# 5xx errors other than "loading" get one quick second chance: gateways fail transiently.
RETRY_DELAY = 1.0
CHARS_PER_TOKEN_ESTIMATE = 3
REMOTE_SUMMARY_INPUT_TOKENS = 1024
REMOTE_CONTEXT_WINDOW = 8192
# An endpoint that did not say its window is asked again after this many seconds, not on every
# message: it may have been starting up.
WINDOW_ASK_AGAIN_AFTER = 60.0
LIBRARY_ERRORS = (HfHubHTTPError, InferenceTimeoutError, httpx2.HTTPError, ValueError, UnidentifiedImageError)
# Where servers put the reason for a failure in a JSON body: huggingface_hub's and TGI's `error`,
# FastAPI's `detail` (transformers serve), vLLM's and OpenAI's `message`.
REASON_KEYS = ("error", "detail", "message")
# A server's reason may name an internal address; the operator's log keeps it, visitors do not.
ADDRESS = re.compile(r"\bhttps?://\S+")
# How servers say a prompt is over the context window: llama-cpp-python ("Requested tokens (2564)
# exceed context window of 2048"), llama.cpp ("request (2564 tokens) exceeds the available context
# size (2048 tokens)"), vLLM and OpenAI ("This model's maximum context length is 2048 tokens",
# "longer than the maximum model length of 2048"), TGI ("`inputs` tokens + `max_new_tokens` must be
# <= 2048", "`inputs` must have less than 2048 tokens"). Each group is the window, where it is named.
OVER_WINDOW = re.compile(
    r"context window of (\d+)|context (?:window|length|size)(?: \((\d+) tokens\))?"
    r"|maximum context length is (\d+)|maximum model length of (\d+)"
    r"|tokens \+ `max_new_tokens` must be <= (\d+)|must have less than (\d+) tokens",
    re.IGNORECASE,
)
# The same, as OpenAI's error code and llama.cpp's error type say it.
OVER_WINDOW_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})


# How visitors' messages name a self-hosted endpoint: by its task, never by its address.
ENDPOINT_NAMES = {
    "summarize": "the summarization endpoint",
    "ner": "the entity recognition endpoint",
    "caption": "the captioning endpoint",
    "imagegen": "the image generation endpoint",
    "chat": "the chat endpoint",
}


def describe_target(config: TaskSettings) -> str:
    """How visitors' messages name the backend: a public model and provider, or the endpoint's task.

    An endpoint URL often names a private host (`http://10.0.0.5:8080`): it stays in the operator's
    log, which records every failure with the address it came from.
    """
    if config.endpoint_url:
        return ENDPOINT_NAMES[config.task]
    provider = (
        "Hugging Face inference providers" if config.provider == "auto" else f"provider {config.provider}"
    )
    return f"{config.model} on {provider}"


class RemoteBackend:
    """Shared plumbing: one long-lived client per event loop, retries, error translation."""

    def __init__(self, config: TaskSettings, token: str | None, notify: Notifier = log_note) -> None:
        self.config = config
        self.where = describe_target(config)
        self._token = token
        self._notify = notify
        # Clients hold connection pools bound to the loop that opened them; a process that runs
        # several servers (tests, serve-all) has several loops.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncInferenceClient] = (
            weakref.WeakKeyDictionary()
        )

    def new_client(self, token: Token = None) -> AsyncInferenceClient:
        return AsyncInferenceClient(
            model=self.config.target,
            provider=None if self.config.endpoint_url else self.config.provider,  # type: ignore[arg-type]
            token=token or self._token,
            timeout=self.config.timeout,
        )

    def shared_client(self) -> AsyncInferenceClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self.new_client()
        return client

    @asynccontextmanager
    async def client(self, token: Token = None) -> AsyncIterator[AsyncInferenceClient]:
        """The shared client for the configured token; a visitor's own token gets a client of its own.

        A visitor's client is never cached or shared, so their token cannot reach anyone else's
        request, and it is closed when the request ends.
        """
        if token is None or token == self._token:
            yield self.shared_client()
        else:
            async with self.new_client(token) as own_client:
                yield own_client

    async def call(self, request: Callable[[AsyncInferenceClient], Awaitable[T]], token: Token = None) -> T:
        """Run one request, waiting for a loading model and retrying a transient 5xx, within bounds."""
        async with self.client(token) as client:
            return await self.call_with(client, request)

    async def call_with(
        self, client: AsyncInferenceClient, request: Callable[[AsyncInferenceClient], Awaitable[T]]
    ) -> T:
        deadline = time.monotonic() + LOADING_WAIT_LIMIT
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await request(client)
            except LIBRARY_ERRORS as error:
                failure = self.translate(error, client.token)
                delay = retry_delay(failure, attempt)
                if delay is None or attempt == MAX_ATTEMPTS or time.monotonic() + delay > deadline:
                    raise failure from error
            if delay:
                self._notify("note_retrying", where=self.where, seconds=delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop either returns or raises")

    def translate(self, error: Exception, token: str | None) -> InferenceError:
        """The failure to show a visitor, logged first (`log_failure`)."""
        self.log_failure(error, token)
        return translate_error(error, self.config, token)

    def log_failure(self, error: Exception, token: str | None) -> None:
        """The operator's log keeps the library's own words and the address they came from, without
        `token`, the one the request carried, should a server echo it."""
        words = _short(_without_token(str(error), token), 500)
        logger.warning("%s at %s: %s", type(error).__name__, self.config.target, words)


def retry_delay(failure: InferenceError, attempt: int) -> float | None:
    """Seconds to wait before trying again, or None when a retry cannot help.

    A loading model says how long it needs (`estimated_time`); without that, back off 1, 2, 4 s.
    """
    if isinstance(failure, ModelLoadingError):
        return min(failure.estimated_time or 2.0 ** (attempt - 1), MAX_LOADING_DELAY)
    if isinstance(failure, BackendFailureError) and attempt == 1:
        return RETRY_DELAY
    # A pooled keep-alive connection closed just as the request went out: it never reached the
    # model, so sending it again at once is safe.
    if isinstance(failure, StreamInterruptedError) and attempt == 1:
        return 0.0
    return None


def translate_error(error: Exception, config: TaskSettings, token: str | None) -> InferenceError:
    """The `InferenceError` a person can act on for an exception raised by InferenceClient for the
    task of `config`, whose settings the hints name; `token` is never repeated."""
    where = describe_target(config)
    if isinstance(error, HfHubHTTPError):
        return _from_status(error, config, token)
    if isinstance(error, (InferenceTimeoutError, httpx2.TimeoutException)):
        return BackendTimeoutError(where, config.timeout)
    if isinstance(error, TextGenerationError):
        return BackendFailureError(where, _short(str(error)))
    if isinstance(error, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        return StreamInterruptedError(where, phrase("detail_connection_closed"))
    if isinstance(error, httpx2.TransportError):
        detail = _short(str(error)) or type(error).__name__
        return BackendUnreachableError(where, detail, hint=_unreachable_hint(config))
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError, UnidentifiedImageError)):
        return MalformedReplyError(where, phrase("detail_not_json"))
    if isinstance(error, ValueError) and not raised_by_library(error):
        raise error  # a bug here, not a failure of the library's: Gradio logs its traceback
    # huggingface_hub raises bare ValueErrors: its replies' parsers and its provider mapping.
    if isinstance(error, ValueError) and str(error).startswith(("Invalid input data", "Invalid data type")):
        return MalformedReplyError(where, phrase("detail_wrong_shape"))
    if isinstance(error, ValueError):
        return UnsupportedModelError(where, _short(str(error)), hint=_model_hint(config))
    return BackendFailureError(where, type(error).__name__)


def raised_by_library(error: BaseException) -> bool:
    """Whether huggingface_hub raised `error` itself: its innermost frame is in the library."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_globals.get("__name__", "").startswith("huggingface_hub")


def _from_status(error: HfHubHTTPError, config: TaskSettings, token: str | None) -> InferenceError:
    """Every status keeps the server's reason in its detail ("HTTP 404: Model not found")."""
    where = describe_target(config)
    status = error.response.status_code
    body = _json_body(error)
    reason = _server_message(error, body, token)
    detail = f"HTTP {status}: {reason}" if reason else f"HTTP {status}"
    if status == 503 and "loading" in reason.lower():
        return ModelLoadingError(where, _estimated_time(body))
    if status == 429:
        return RateLimitError(where, detail)
    if status in (401, 403):
        return AuthenticationError(where, detail)
    # A reason that names the configured model is about the model, not the URL or the visitor's input.
    names_model = _names(reason, config.model)
    if status == 404:
        return ModelNotFoundError(
            where, detail, hint=_model_hint(config) if names_model else _not_found_hint(config)
        )
    if status in (400, 413, 422):
        if names_model:
            return ModelRejectedError(where, detail, hint=_model_hint(config))
        return InputRejectedError(where, detail)
    return BackendFailureError(where, detail)


def _json_body(error: HfHubHTTPError) -> Any:
    """The error response's JSON, or None when it is not JSON or its body was never read."""
    try:
        return error.response.json()
    except (ValueError, httpx2.ResponseNotRead):
        return None


def _server_message(error: HfHubHTTPError, body: Any, token: str | None) -> str:
    """The server's own reason, short, for a visitor to read.

    huggingface_hub reads only an `error` string or list: FastAPI's `{"detail": ...}` (transformers
    serve) and OpenAI's `{"error": {"message": ...}}` (vLLM, llama.cpp) are read here; its
    `server_message` still covers the X-Error-Message header and plain-text bodies. HTML error pages
    are not repeated, nor addresses, nor the token the request carried.
    """
    message = (_reason(body) if isinstance(body, dict) else "") or error.server_message or ""
    if "<html" in message.lower() or "<!doctype" in message.lower():
        return ""
    return _short(ADDRESS.sub("<URL>", _without_token(message, token)))


def _reason(value: Any) -> str:
    """Readable text from a JSON error: a string, a list of reasons, a FastAPI validation error
    (`{"loc": ["body", "messages"], "msg": "Field required"}`), or an object holding one of these."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(reason for reason in map(_reason, value) if reason)
    if not isinstance(value, dict):
        return ""
    if isinstance(value.get("msg"), str):
        location = value.get("loc")
        if isinstance(location, list) and location:
            return f"{'.'.join(map(str, location))}: {value['msg']}"
        return value["msg"]
    return next((reason for key in REASON_KEYS if (reason := _reason(value.get(key)))), "")


def _names(reason: str, model: str) -> bool:
    """Whether `reason` names `model` as a whole name: "llama3.2" is not named by "llama3.2-vision"."""
    return re.search(rf"(?<![\w./-]){re.escape(model)}(?!\.?[\w/-])", reason) is not None


def _without_token(text: str, token: str | None) -> str:
    """A server may echo the Authorization header it refused; the token is the Space's or a visitor's."""
    return text.replace(token, "***") if token else text


def _estimated_time(body: Any) -> float | None:
    value = body.get("estimated_time") if isinstance(body, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _model_hint(config: TaskSettings) -> Phrase:
    """Through a provider the model id and the provider choose the model; an endpoint serves the
    model it was started with."""
    model = MODEL_VARIABLES[config.task]
    if config.endpoint_url:
        return phrase("hint_model", model=model)
    return phrase("hint_model_and_provider", model=model)


def _not_found_hint(config: TaskSettings) -> Phrase:
    """A 404 that names no model: the URL is wrong, or, for chat (whose payload names the model on
    an endpoint too), the model is unknown there."""
    if not config.endpoint_url:
        return _model_hint(config)
    endpoint = ENDPOINT_VARIABLES[config.task][0]
    if config.task == "chat":
        return phrase("hint_endpoint_and_model", endpoint=endpoint, model=MODEL_VARIABLES["chat"])
    return phrase("hint_endpoint", endpoint=endpoint)


def _unreachable_hint(config: TaskSettings) -> Phrase:
    """Through a provider there is no URL of ours to check, only the way out to the internet."""
    if config.endpoint_url:
        return phrase("hint_server_running", endpoint=ENDPOINT_VARIABLES[config.task][0])
    return phrase("hint_internet")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def estimate_tokens(text: str) -> int:
    """A conservative token count where no tokenizer is at hand.

    English averages about four characters per BPE or WordPiece token; counting one token per
    three characters overestimates, so text sized with it fits the real limit. Other scripts pack
    far fewer characters into a token (a Chinese character is about one), so every character
    outside ASCII counts as a token of its own.
    """
    ascii_characters = sum(character.isascii() for character in text)
    return math.ceil(ascii_characters / CHARS_PER_TOKEN_ESTIMATE) + len(text) - ascii_characters


class RemoteSummarizer(RemoteBackend):
    async def max_input_tokens(self) -> int:
        # The limit of BART-style summarizers, the default model's family; the remote model's
        # tokenizer is unknown, so lengths are estimated against it.
        return REMOTE_SUMMARY_INPUT_TOKENS

    async def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def summarize(self, text: str, *, min_length: int, max_length: int, token: Token = None) -> str:
        result = await self.call(
            lambda client: client.summarization(
                text, generate_parameters={"min_length": min_length, "max_length": max_length}
            ),
            token,
        )
        return _require_text(result.get("summary_text"), self.where, "summary_text")


class RemoteTokenClassifier(RemoteBackend):
    async def classify_tokens(self, text: str, token: Token = None) -> list[dict[str, Any]]:
        result = await self.call(
            lambda client: client.token_classification(text, aggregation_strategy="simple"), token
        )
        pieces = [dict(item) for item in result]
        if not all(("entity" in p or "entity_group" in p) and "word" in p for p in pieces):
            raise MalformedReplyError(self.where, phrase("detail_entities_shape"))
        return pieces


class RemoteCaptioner(RemoteBackend):
    async def caption(self, image: EncodedImage, token: Token = None) -> str:
        result = await self.call(lambda client: client.image_to_text(image.path), token)
        return _require_text(result.get("generated_text"), self.where, "generated_text").strip()


class RemoteImageGenerator(RemoteBackend):
    async def generate(
        self, request: ImageRequest, on_step: StepCallback | None = None, token: Token = None
    ) -> Image.Image:
        return await self.call(
            lambda client: client.text_to_image(
                request.prompt, **request.generation_arguments(), seed=request.seed
            ),
            token,
        )


class RemoteChat(RemoteBackend):
    calls_tools = True

    def __init__(self, config: TaskSettings, token: str | None, notify: Notifier = log_note) -> None:
        super().__init__(config, token, notify)
        self._reported_window: int | None = None
        self._ask_again_at = 0.0

    async def context_window(self) -> int:
        """Through providers, the window the offered models are served with. An endpoint's is
        CHAT_CONTEXT_WINDOW where the operator set it (a server may report more than it runs with),
        else what the server reports, else a window most current instruct models take."""
        if not self.config.endpoint_url:
            return PROVIDER_CHAT_MODELS.get(self.config.model, REMOTE_CONTEXT_WINDOW)
        return self.config.context_window or await self._window_reported() or REMOTE_CONTEXT_WINDOW

    async def _window_reported(self) -> int | None:
        """The endpoint's own figure, asked for once and kept; a server that did not give one is
        asked again a minute later, not on every message. Visitors who start at the same moment may
        each ask: the answers agree, and asking costs a few milliseconds."""
        endpoint_url = self.config.endpoint_url
        if endpoint_url is None or self._reported_window or time.monotonic() < self._ask_again_at:
            return self._reported_window
        self._reported_window = await context_window_reported(endpoint_url, self.config.model, self._token)
        if self._reported_window:
            logger.info("%s reports a context window of %d tokens", endpoint_url, self._reported_window)
        else:
            self._ask_again_at = time.monotonic() + WINDOW_ASK_AGAIN_AFTER
            logger.warning(
                "%s did not report its context window (%s): conversations are cut to %d tokens; "
                "set CHAT_CONTEXT_WINDOW to the server's window",
                endpoint_url,
                ASKED_FOR_WINDOW,
                REMOTE_CONTEXT_WINDOW,
            )
        return self._reported_window

    async def count_tokens(self, messages: list[Message]) -> int:
        # A few tokens per message for the role markers of chat templates; a picture is a fixed figure
        # (`PICTURE_TOKENS`), whatever the length of the data that carries it.
        return sum(
            estimate_tokens(message_text(message["content"]))
            + PICTURE_TOKENS * pictures_in(message["content"])
            + 4
            for message in messages
        )

    async def stream_reply(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        token: Token = None,
    ) -> AsyncGenerator[ReplyDelta | ToolCall, None]:
        """Stream deltas over a connection owned by this reply, reasoning apart from the answer
        whichever way the server sends it (`reasoning_deltas`), then the tools the model calls, if
        it was offered `tools` (OpenAI function specs) and calls any, each whole once the stream ends.
        `tool_choice` "none" forbids calling them.

        The client's exit stack keeps every stream it opened until the client closes, so a
        long-lived client would keep a stopped reply's connection open and the server would go on
        generating. A client scoped to the reply closes the stream the moment the visitor stops.
        """
        async with self.new_client(token) as client:
            stream = await self.call_with(
                client,
                lambda client: client.chat_completion(
                    messages,
                    # Servers such as vLLM and Ollama route on the payload's model name; the URL
                    # alone would send "dummy".
                    model=self.config.model if self.config.endpoint_url else None,
                    stream=True,
                    temperature=temperature,
                    max_tokens=max_tokens,
                    tools=tools or None,  # type: ignore[arg-type]
                    tool_choice=tool_choice if tools else None,  # type: ignore[arg-type]
                ),
            )
            finish_reason, choices_seen = None, False
            content, tool_calls = ThinkTagSplitter(), ToolCallParts()
            try:
                async for chunk in stream:
                    if not chunk.choices:
                        continue
                    choices_seen = True
                    delta = chunk.choices[0].delta
                    for reply_delta in reasoning_deltas(delta, content):
                        yield reply_delta
                    for tool_call_delta in delta.tool_calls or ():
                        tool_calls.add(tool_call_delta)
                    finish_reason = chunk.choices[0].finish_reason or finish_reason
                for reply_delta in content.close():
                    yield reply_delta
            # huggingface_hub raises an error event of the stream (`{"error": ...}`) as a
            # TextGenerationError holding the event's value; chat completions raise it for nothing else.
            except TextGenerationError as error:
                raise self._error_event(error, client.token) from error
            except LIBRARY_ERRORS as error:
                failure = self.translate(error, client.token)
                if isinstance(failure, BackendTimeoutError):
                    stalled = phrase("detail_stalled", seconds=self.config.timeout)
                    raise StreamInterruptedError(self.where, stalled) from error
                raise failure from error
            # Every OpenAI-compatible server ends a reply with a finish reason; a reply that closes
            # without one was cut short, however cleanly. (A stream of no reply at all is the task's
            # to refuse as unreadable.)
            if choices_seen and finish_reason is None:
                raise StreamEndedEarlyError(self.where, phrase("detail_no_finish_reason"))
            if finish_reason == "length":
                raise ReplyAtTokenLimitError(self.where, max_tokens)
            for call in tool_calls.calls():
                yield call

    def _error_event(self, error: TextGenerationError, token: str | None) -> InferenceError:
        """The failure for an error the server sent inside a stream it began with 200, in its words.

        A prompt over the context window is the conversation's length, not the server's fault: the
        visitor is told the window, as the server names it or as this app knows it, and to shorten.
        """
        self.log_failure(error, token)
        event = error.args[0] if error.args else None
        reason = ADDRESS.sub("<URL>", _without_token(_reason(event) or str(error), token))
        window = _window_named(event, reason) or self.config.context_window or self._reported_window
        if window and _over_window(event, reason):
            return ContextWindowExceededError(self.where, _short(reason), window)
        return ReplyFailedError(self.where, _short(reason))


def reasoning_deltas(delta: Any, content: ThinkTagSplitter) -> list[ReplyDelta]:
    """The reply deltas of one streamed delta: its reasoning, in the field huggingface_hub names
    `reasoning` (the HF router's) or in vLLM's and DeepSeek's `reasoning_content`, then its content,
    split by `content` where the model writes its reasoning in `<think>` tags."""
    reasoning = delta.reasoning or delta.get("reasoning_content")
    deltas = [ReplyDelta(reasoning, reasoning=True)] if isinstance(reasoning, str) and reasoning else []
    return deltas + (content.feed(delta.content) if delta.content else [])


def _over_window(event: Any, reason: str) -> bool:
    """Whether an error event says the prompt is over the context window, in words or by its code."""
    codes = {event.get("code"), event.get("type")} if isinstance(event, dict) else set()
    return OVER_WINDOW.search(reason) is not None or not OVER_WINDOW_CODES.isdisjoint(codes)


def _window_named(event: Any, reason: str) -> int | None:
    """The context window an error event names: llama.cpp's `n_ctx` field, or a figure in its words."""
    if isinstance(event, dict) and isinstance(event.get("n_ctx"), int) and event["n_ctx"] > 0:
        return event["n_ctx"]
    figures = [figure for match in OVER_WINDOW.finditer(reason) for figure in match.groups() if figure]
    return int(figures[0]) if figures else None


def _require_text(value: object, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise MalformedReplyError(where, phrase("detail_missing_field", field=field))
    return value
