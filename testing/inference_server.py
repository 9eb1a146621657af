"""A local stand-in for the Hugging Face inference endpoints the apps call.

`huggingface_hub` 2.x sends HTTP through `httpx2`, which httpx mocks do not intercept, so tests and
benchmarks point the apps at a real server instead: this one speaks the wire protocol that
`InferenceClient` uses when `model=` is a URL, answers deterministically so results can be asserted
exactly, records what it receives, and fails on demand the ways the real service fails.

Example:
    >>> from huggingface_hub import InferenceClient
    >>> with InferenceTestServer() as server:
    ...     client = InferenceClient(model=server.endpoint("summarize"), token="hf_test")
    ...     client.summarization("First. Second.").summary_text
    'First.'
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import contextlib
import hashlib
import io
import itertools
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from types import TracebackType
from typing import Any, Literal, get_args

import uvicorn
from PIL import Image, ImageStat, UnidentifiedImageError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Task = Literal["summarize", "ner", "caption", "imagegen", "chat"]
Fault = Literal[
    "loading",
    "rate_limit",
    "unauthorized",
    "forbidden",
    "server_error",
    "bad_gateway",
    "timeout",
    "malformed_html",
    "malformed_json",
    "pinned_model",
    "unknown_model",
    "invalid_body",
    "stream_cut",
    "stream_stall",
    "stream_end",
    "stream_error",
    "stream_over_window",
]
NerShape = Literal["pieces", "grouped", "misaligned"]
ServerKind = Literal["tgi", "vllm", "llama.cpp", "llama.cpp-models", "ollama"]
"""Which chat server the test server describes itself as, at that server's own paths under the chat
endpoint URL: TGI's `GET /info`, vLLM's `GET /v1/models`, llama.cpp's `GET /props` and `GET /v1/models`
(the "llama.cpp-models" variant only the latter, as a proxy in front of llama.cpp may), Ollama's
`POST /api/show`. Every other such path answers 404, as every path does when no kind is set."""
ReasoningShape = Literal["reasoning", "reasoning_content", "think"]
"""How the server streams the reasoning it writes before a chat reply: a `reasoning` field of the
delta (huggingface_hub's name, the HF router's), a `reasoning_content` field (vLLM's, DeepSeek's API),
or a `<think>...</think>` block at the start of the content (Qwen3 and DeepSeek-R1 on TGI or
llama.cpp), its tags cut across chunks as a tokenizer cuts them."""

TASKS: tuple[Task, ...] = get_args(Task)
FAULTS: tuple[Fault, ...] = get_args(Fault)
# These only make sense once a chat stream has started; other requests ignore them.
STREAM_FAULTS: frozenset[Fault] = frozenset(
    {"stream_cut", "stream_stall", "stream_end", "stream_error", "stream_over_window"}
)

# The endpoint URL an app is given per task. Chat clients append /v1/chat/completions themselves.
BASE_PATHS: dict[Task, str] = {
    "summarize": "/summarize",
    "ner": "/ner",
    "caption": "/caption",
    "imagegen": "/imagegen",
    "chat": "/chat",
}
# Where requests arrive: non-chat tasks POST to the endpoint URL itself.
REQUEST_PATHS: dict[Task, str] = {**BASE_PATHS, "chat": BASE_PATHS["chat"] + "/v1/chat/completions"}
# The variables `common.settings` reads to send a task to an endpoint URL.
ENV_VARIABLES: dict[Task, str] = {
    "summarize": "HF_API_SUMMARY_BASE",
    "ner": "HF_API_NER_BASE",
    "caption": "HF_API_ITT_BASE",
    "imagegen": "HF_API_TTI_BASE",
    "chat": "HF_API_CHAT_BASE",
}
DEFAULT_GAZETTEER: dict[str, str] = {
    "Andrew": "PER",
    "Poli": "PER",
    "DeepLearningAI": "ORG",
    "DeeplearningAI": "ORG",
    "HuggingFace": "ORG",
    "California": "LOC",
    "Vienna": "LOC",
    "New York": "LOC",
    "Paris": "LOC",
    "Eiffel Tower": "LOC",
    "Washington Monument": "LOC",
    "Chrysler Building": "LOC",
    "Millau Viaduct": "LOC",
    "France": "LOC",
}
DEFAULT_IMAGE_SIZE = 512
IMAGE_SIZE_RANGE = (16, 2048)
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
# The one model a "pinned_model" fault says the server serves, as `transformers serve MODEL` does.
PINNED_MODEL = "X"
# Where chat servers describe themselves, under the chat endpoint URL: (method, path).
INFO_PATHS: tuple[tuple[str, str], ...] = (
    ("GET", "/props"),
    ("GET", "/info"),
    ("GET", "/v1/models"),
    ("POST", "/api/show"),
)
# The model a server of a `ServerKind` says it serves, and one more that vLLM lists beside it.
SERVED_MODEL = "served/chat-model"
OTHER_SERVED_MODEL = "other/chat-model"
# What TGI sends inside a stream when generation fails part-way.
GENERATION_FAILURE = "Request failed during generation: Server error: CUDA out of memory."

_WORD_PIECE_LENGTH = 4
# How many later words a "misaligned" NER reply runs each entity's span over.
_RUN_ON_WORDS = 2
_WORD_START = re.compile(r"(?<!\S)\S+")
_STARTUP_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0
# uvicorn cancels whatever still runs this long after stop(); handlers normally end at once.
_GRACEFUL_SHUTDOWN = 2.0
_BAD_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)
_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>Hugging Face</title></head>"
    "<body><h1>Service temporarily unavailable</h1><p>Please try again later.</p></body></html>"
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it, for asserting what a client really sent."""

    task: Task
    path: str
    headers: dict[str, str]
    json: Any
    body: bytes
    fault: Fault | None = None
    """The fault the server injected into its answer, if any (queued, or drawn by `fault_rate`)."""


@dataclass
class _QueuedFault:
    fault: Fault
    task: Task | None
    remaining: int


@dataclass(frozen=True)
class _FaultRate:
    rate: float
    faults: tuple[Fault, ...]
    rng: random.Random


# A task handler answers one recorded request; only chat uses the fault (a stream fault strikes mid-stream).
_Handler = Callable[[RecordedRequest, Fault | None], Awaitable[Response]]


class _BadRequest(ValueError):
    """Raised by a task handler to answer 400 with this message, as the real endpoints reject bad input."""


class _StreamAborted(Exception):
    """Raised inside a streaming body so uvicorn drops the connection without finishing the response."""


class _DropStreamAborts(logging.Filter):
    """uvicorn logs every exception escaping the app; an injected stream cut is intended, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _StreamAborted))


_DROP_STREAM_ABORTS = _DropStreamAborts()


# Deterministic task results. Public so tests can compute what the server will answer.


def summary_for(text: str, max_length: int | None = None) -> str:
    """The first sentence of `text`, cut to `max_length` words when given."""
    first, separator, _ = text.strip().partition(". ")
    sentence = first + "." if separator else first
    words = sentence.split()
    return " ".join(words if max_length is None else words[:max_length])


def find_entities(text: str, gazetteer: Mapping[str, str] = DEFAULT_GAZETTEER) -> list[tuple[str, int, int]]:
    """`(label, start, end)` of each whole-word gazetteer name in `text`; longer names win overlaps."""
    candidates = [
        (match.start(), -len(name), label)
        for name, label in gazetteer.items()
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text)
    ]
    entities: list[tuple[str, int, int]] = []
    taken_until = 0
    for start, negative_length, label in sorted(candidates):
        if start >= taken_until:
            taken_until = start - negative_length
            entities.append((label, start, taken_until))
    return entities


def ner_pieces(text: str, gazetteer: Mapping[str, str] = DEFAULT_GAZETTEER) -> list[dict[str, Any]]:
    """The per-word-piece output of transformers' token-classification pipeline without aggregation.

    Entity words are split into pieces of at most four characters, later pieces prefixed with "##", as
    WordPiece does; only the entity's first piece is B-, the rest I-. `index` counts pieces of the whole
    text from 1 ([CLS] is 0), and the score drops slightly with it.
    """
    piece_starts = [start for word in re.finditer(r"\w+|[^\w\s]", text) for start, _ in _pieces(word)]
    output = []
    for label, start, end in find_entities(text, gazetteer):
        for number, (piece_start, piece_end) in enumerate(
            piece for word in re.finditer(r"\S+", text[start:end]) for piece in _pieces(word, start)
        ):
            index = 1 + bisect.bisect_left(piece_starts, piece_start)
            word = text[piece_start:piece_end]
            is_word_start = piece_start == start or text[piece_start - 1].isspace()
            output.append(
                {
                    "entity": f"{'I' if number else 'B'}-{label}",
                    "score": _piece_score(index),
                    "index": index,
                    "word": word if is_word_start else f"##{word}",
                    "start": piece_start,
                    "end": piece_end,
                }
            )
    return output


def ner_grouped(text: str, gazetteer: Mapping[str, str] = DEFAULT_GAZETTEER) -> list[dict[str, Any]]:
    """The aggregated output (`aggregation_strategy` "simple" and friends): one group per entity."""
    pieces = ner_pieces(text, gazetteer)
    output = []
    for label, start, end in find_entities(text, gazetteer):
        scores = [piece["score"] for piece in pieces if start <= piece["start"] < end]
        output.append(
            {
                "entity_group": label,
                "score": round(sum(scores) / len(scores), 4),
                "word": text[start:end],
                "start": start,
                "end": end,
            }
        )
    return output


def ner_misaligned(text: str, gazetteer: Mapping[str, str] = DEFAULT_GAZETTEER) -> list[dict[str, Any]]:
    """The grouped output with wrong offsets: each span runs on over the next two words.

    This is the reported fault ("Andrew" with the span of "Andrew, I'm building"); `word` still names
    the entity alone, so a client that checks offsets against it can recover the right span.
    """
    output = []
    for group in ner_grouped(text, gazetteer):
        run_on = [word.end() for word in _WORD_START.finditer(text, group["end"])][:_RUN_ON_WORDS]
        output.append({**group, "end": run_on[-1] if run_on else group["end"]})
    return output


NER_REPLIES: dict[NerShape, Callable[[str, Mapping[str, str]], list[dict[str, Any]]]] = {
    "pieces": ner_pieces,
    "grouped": ner_grouped,
    "misaligned": ner_misaligned,
}


def caption_for(image: Image.Image) -> str:
    """Names the size and the dominant channel of the mean colour ("gray" when none stands out)."""
    means = ImageStat.Stat(image.convert("RGB")).mean
    dominant = ("red", "green", "blue")[means.index(max(means))]
    color = "gray" if max(means) - min(means) <= 10 else dominant
    return f"a {image.width}x{image.height} {color} picture"


def image_color_for(prompt: str, seed: int | None) -> tuple[int, int, int]:
    """The solid colour generated for a prompt: the same seed repeats it, another seed changes it."""
    digest = hashlib.sha256(json.dumps([prompt, seed]).encode()).digest()
    return digest[0], digest[1], digest[2]


def chat_reply_for(messages: Sequence[Mapping[str, Any]]) -> str:
    """Echoes the last user message and counts user turns, so multi-turn history is visible; and the
    pictures of the whole request, when it has any: "You said: what is this? (turn 1, 1 picture)"."""
    user_messages = [message for message in messages if message.get("role") == "user"]
    if not user_messages:
        raise _BadRequest("messages must contain at least one user message")
    pictures = len(received_pictures(messages))
    seen = f", {pictures} picture{'s' if pictures > 1 else ''}" if pictures else ""
    words = _message_text(user_messages[-1])
    said = f"You said: {words}" if words else "You said nothing"
    return f"{said} (turn {len(user_messages)}{seen})"


@dataclass(frozen=True)
class ReceivedPicture:
    """A picture a chat request carried, as an `image_url` part with a `data:` URL."""

    mime_type: str
    data: bytes

    def decode(self) -> Image.Image:
        with Image.open(io.BytesIO(self.data)) as image:
            image.load()
            return image.copy()


def received_pictures(messages: Sequence[Mapping[str, Any]]) -> list[ReceivedPicture]:
    """The pictures of a chat request's messages, in order. Only a base64 `data:` URL is a picture
    here; a URL or a path is refused as a client error, so no test passes that sent one."""
    pictures = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            url = _field(part.get("image_url"), "url")
            header, _, encoded = url.partition(",") if isinstance(url, str) else ("", "", "")
            if not (header.startswith("data:") and header.endswith(";base64")):
                raise _BadRequest(f"image_url must be a base64 data: URL, not {str(url)[:40]!r}")
            try:
                data = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                raise _BadRequest("image_url holds no valid base64") from None
            pictures.append(ReceivedPicture(header.removeprefix("data:").removesuffix(";base64"), data))
    return pictures


def chat_tokens(reply: str) -> list[str]:
    """Splits before each space, so tokens concatenate back to the reply: ["You", " said:", ...]."""
    return [token for token in re.split(r"(?= )", reply) if token]


def chat_reasoning_for(messages: Sequence[Mapping[str, Any]]) -> str:
    """The reasoning streamed before `chat_reply_for(messages)` when the server reasons."""
    return f"The user wrote {len(messages)} messages; I will repeat the last one."


def chat_deltas(
    messages: Sequence[Mapping[str, Any]], reasoning: ReasoningShape | None
) -> list[dict[str, str]]:
    """The deltas of a streamed reply, one token each, reasoning first in the given shape.

    In the "think" shape each tag is cut in two, between chunks, as tokenizers that have no token for
    it cut it: `"<th"`, `"ink>\\nThe"`.
    """
    reply = chat_reply_for(messages)
    if reasoning is None:
        return [{"content": token} for token in chat_tokens(reply)]
    thought = chat_reasoning_for(messages)
    if reasoning == "think":
        tokens = chat_tokens(f"<think>\n{thought}\n</think>\n\n{reply}")
        return [{"content": piece} for token in tokens for piece in _cut_tags(token)]
    return [{reasoning: token} for token in chat_tokens(thought)] + [
        {"content": token} for token in chat_tokens(reply)
    ]


# How a test asks the server's model to call a tool: "call NAME {json arguments}" in the user's message,
# as many times as it wants calls in one round.
TOOL_REQUEST = re.compile(r"\bcall ([\w-]+) ")
# vLLM's answer to a request with `tools` when it was started without tool calling.
TOOLS_REFUSED = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'


def requested_tool_calls(messages: Sequence[Mapping[str, Any]], tools: Any) -> list[tuple[str, str]]:
    """`(name, JSON arguments)` of each call the last user message asks for, of the tools offered."""
    tools = tools if isinstance(tools, list) else []
    offered = {_field(_field(tool, "function"), "name") for tool in tools}
    asked = _message_text(_last_user_message(messages))
    calls = []
    for match in TOOL_REQUEST.finditer(asked):
        try:
            arguments, _ = json.JSONDecoder().raw_decode(asked, match.end())
        except ValueError:
            continue
        if match.group(1) in offered:
            calls.append((match.group(1), json.dumps(arguments)))
    return calls


def tool_rounds_done(messages: Sequence[Mapping[str, Any]]) -> int:
    """Rounds of tool calls since the last user message: the model's turns that called tools."""
    return sum(1 for message in _since_last_user(messages) if message.get("tool_calls"))


def chat_reply_with_tools(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The answer once tools have returned: their results, in order; None before any has."""
    since = _since_last_user(messages)
    results = [_message_text(message) for message in since if message.get("role") == "tool"]
    return f"The tools said: {' | '.join(results)}" if results else None


def tool_call_deltas(calls: Sequence[tuple[str, str]], round_number: int) -> list[dict[str, Any]]:
    """Streamed tool calls as OpenAI sends them: each call's id and name first, then its arguments in
    three fragments, every delta under the call's index."""
    deltas: list[dict[str, Any]] = []
    for index, (name, arguments) in enumerate(calls):
        opening = {"index": index, "id": f"call_{round_number}_{index}", "type": "function"}
        deltas.append({"tool_calls": [{**opening, "function": {"name": name, "arguments": ""}}]})
        third = -(-len(arguments) // 3)
        for start in range(0, len(arguments), third or 1):
            fragment = {"index": index, "function": {"arguments": arguments[start : start + third]}}
            deltas.append({"tool_calls": [fragment]})
    return deltas


def _last_user_message(messages: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    users = [message for message in messages if message.get("role") == "user"]
    if not users:
        raise _BadRequest("messages must contain at least one user message")
    return users[-1]


def _since_last_user(messages: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    last = max((n for n, message in enumerate(messages) if message.get("role") == "user"), default=-1)
    return messages[last + 1 :]


def _cut_tags(token: str) -> list[str]:
    for tag in ("<think>", "</think>"):
        at = token.find(tag)
        if at >= 0:
            middle = at + len(tag) // 2
            return [token[:middle], token[middle:]]
    return [token]


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# What a test may change on a shared server, and `reset()` puts back.
RESETTABLE = (
    "required_token",
    "latency",
    "token_delay",
    "hang_seconds",
    "estimated_time",
    "ner_shape",
    "server_kind",
    "context_window",
    "slots",
    "reasoning",
    "tool_rounds",
    "refuse_tools",
    "refuse_pictures",
)


class InferenceTestServer:
    """The five task endpoints on 127.0.0.1, served by uvicorn on a background thread and event loop.

    Settings are plain attributes and can change while the server runs: `latency` (seconds before each
    response), `token_delay` (seconds between streamed chat tokens), `hang_seconds` (how long "timeout"
    and "stream_stall" hang), `estimated_time` (reported by "loading"), `ner_shape` (a key of
    `NER_REPLIES`; None picks pieces or grouped from the request's `aggregation_strategy`), `gazetteer`
    (names the NER task recognises) and `required_token` (when set, other Authorization headers get 401).
    `server_kind` (a `ServerKind`, or None) says which chat server it describes itself as, with the
    `context_window` and `slots` it then reports. `reasoning` (a `ReasoningShape`, or None) makes chat
    replies reason first, in that shape; the reasoning's tokens count against `max_tokens` too.
    Offered `tools`, the model calls those the last user message asks for ("call NAME {...}") for
    `tool_rounds` rounds, then answers with their results (`chat_reply_with_tools`); `refuse_tools`
    makes it refuse any request with tools, as vLLM does when started without tool calling.
    `refuse_pictures` makes it answer a chat request with pictures as vLLM serving a text-only model
    does: HTTP 400, "<model> is not a multimodal model".
    """

    def __init__(
        self,
        *,
        required_token: str | None = None,
        latency: float = 0.0,
        token_delay: float = 0.0,
        hang_seconds: float = 30.0,
        estimated_time: float = 0.5,
        ner_shape: NerShape | None = None,
        gazetteer: Mapping[str, str] = DEFAULT_GAZETTEER,
        server_kind: ServerKind | None = None,
        context_window: int = 2048,
        slots: int = 1,
        reasoning: ReasoningShape | None = None,
        tool_rounds: int = 1,
        refuse_tools: bool = False,
        refuse_pictures: bool = False,
    ) -> None:
        self.required_token = required_token
        self.latency = latency
        self.token_delay = token_delay
        self.hang_seconds = hang_seconds
        self.estimated_time = estimated_time
        self.ner_shape = ner_shape
        self.reasoning = reasoning
        self.tool_rounds = tool_rounds
        self.refuse_tools = refuse_tools
        self.refuse_pictures = refuse_pictures
        self.gazetteer = dict(gazetteer)
        self.server_kind = server_kind
        self.context_window = context_window
        self.slots = slots
        self._made_with = {name: getattr(self, name) for name in RESETTABLE}

        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._info_requests: list[str] = []
        self._open_streams = 0
        self._peak_streams = 0
        self._queued_faults: list[_QueuedFault] = []
        self._fault_rate: _FaultRate | None = None
        self._completion_ids = itertools.count(1)

        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._uvicorn: _Uvicorn | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        handlers: dict[Task, _Handler] = {
            "summarize": self._summarize,
            "ner": self._ner,
            "caption": self._caption,
            "imagegen": self._imagegen,
            "chat": self._chat,
        }
        self._app = Starlette(
            routes=[
                *(
                    Route(REQUEST_PATHS[task], self._endpoint(task, handler), methods=["POST"])
                    for task, handler in handlers.items()
                ),
                *(
                    Route(BASE_PATHS["chat"] + path, self._server_info, methods=[method])
                    for method, path in INFO_PATHS
                ),
            ]
        )

    # Lifecycle

    def start(self) -> InferenceTestServer:
        """Listen on a free port and return once requests are served; each start picks a new port."""
        if self._thread is not None:
            raise RuntimeError("InferenceTestServer is already running")
        logging.getLogger("uvicorn.error").addFilter(_DROP_STREAM_ABORTS)
        # An explicit IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; with the default
        # proto 0 it does not, and every response waits ~40 ms for a delayed ACK between headers and body.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        started = threading.Event()
        config = uvicorn.Config(
            self._app,
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN,
        )
        self._uvicorn = _Uvicorn(config, started)
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve(sock),),
            name=f"inference-test-server-{self._port}",
            daemon=True,
        )
        self._thread.start()
        if not started.wait(_STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError("InferenceTestServer did not start")
        return self

    def stop(self) -> None:
        """Shut down within seconds: hanging requests and stalled streams end as soon as this is called."""
        thread, self._thread = self._thread, None
        if thread is None or self._uvicorn is None:
            return
        self._uvicorn.should_exit = True
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self._loop.call_soon_threadsafe(self._stopping.set)
        thread.join(_STOP_TIMEOUT)
        if thread.is_alive():
            self._uvicorn.force_exit = True
            thread.join(_STOP_TIMEOUT)

    def __enter__(self) -> InferenceTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def _serve(self, sock: socket.socket) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        assert self._uvicorn is not None
        with sock:
            await self._uvicorn.serve(sockets=[sock])

    # Addresses

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        if self._port is None:
            raise RuntimeError("InferenceTestServer has not been started")
        return f"http://127.0.0.1:{self._port}"

    def endpoint(self, task: Task) -> str:
        """The URL to pass as `model=`: POSTed to as is, or with /v1/chat/completions appended for chat."""
        return self.url + BASE_PATHS[task]

    def env(self) -> dict[str, str]:
        """The environment variables that send every task of an app to this server."""
        return {ENV_VARIABLES[task]: self.endpoint(task) for task in TASKS}

    # Recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, task: Task) -> list[RecordedRequest]:
        """The requests received for one task, in arrival order."""
        return [request for request in self.requests if request.task == task]

    @property
    def info_requests(self) -> list[str]:
        """The requests for the server's self-description ("GET /props", ...), in arrival order;
        they are not among `requests`, which are inference requests only."""
        with self._lock:
            return list(self._info_requests)

    @property
    def peak_streams(self) -> int:
        """The most chat streams that were open at the same moment."""
        with self._lock:
            return self._peak_streams

    def clear(self) -> None:
        """Forget recorded requests and the peak of open streams (queued faults stay)."""
        with self._lock:
            self._requests.clear()
            self._info_requests.clear()
            self._peak_streams = self._open_streams

    # Faults

    def inject(self, fault: Fault, task: Task | None = None, times: int = 1) -> None:
        """Make the next `times` requests of `task` (of any task when None) fail with `fault`.

        Queued faults are consumed in the order they were injected. Stream faults wait for a streamed
        chat request.
        """
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
        if fault in STREAM_FAULTS and task not in (None, "chat"):
            raise ValueError(f"{fault!r} only applies to streamed chat requests")
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queued_faults.append(_QueuedFault(fault, task, times))

    def fault_rate(self, rate: float, faults: Iterable[Fault], seed: int = 0) -> None:
        """Fail a seeded random fraction of requests, for load tests; queued faults take precedence.

        Each request draws its fate in arrival order, so a seed gives the same sequence of faults. A stream
        fault drawn for a request that is not a streamed chat leaves that request unharmed.
        """
        chosen = tuple(faults)
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        if not chosen or any(fault not in FAULTS for fault in chosen):
            raise ValueError(f"faults must be a non-empty selection of {FAULTS}")
        with self._lock:
            self._fault_rate = _FaultRate(rate, chosen, random.Random(seed))

    def reset_faults(self) -> None:
        """Drop queued faults and stop random failures."""
        with self._lock:
            self._queued_faults.clear()
            self._fault_rate = None

    def reset(self) -> None:
        """As the server was made: no faults, nothing recorded, the settings it was made with.

        For a server that many tests share, before each of them."""
        self.reset_faults()
        self.clear()
        for name, value in self._made_with.items():
            setattr(self, name, value)

    def _take_fault(self, task: Task, streaming: bool) -> Fault | None:
        """Called under the lock, once per request, in arrival order."""
        for queued in self._queued_faults:
            if queued.task in (None, task) and (streaming or queued.fault not in STREAM_FAULTS):
                queued.remaining -= 1
                if queued.remaining == 0:
                    self._queued_faults.remove(queued)
                return queued.fault
        if self._fault_rate is None:
            return None
        roll = self._fault_rate.rng.random()
        fault = self._fault_rate.rng.choice(self._fault_rate.faults)
        if roll >= self._fault_rate.rate or (fault in STREAM_FAULTS and not streaming):
            return None
        return fault

    # Request handling

    def _endpoint(self, task: Task, handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wraps a task handler with what every endpoint does: record, authorize, wait, inject faults."""

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            recorded = RecordedRequest(
                task=task,
                path=request.url.path,
                headers=dict(request.headers),
                json=_parse_json(body),
                body=body,
            )
            streaming = (
                task == "chat" and isinstance(recorded.json, dict) and recorded.json.get("stream") is True
            )
            with self._lock:
                authorized = self.required_token is None or (
                    recorded.headers.get("authorization") == f"Bearer {self.required_token}"
                )
                fault = self._take_fault(task, streaming) if authorized else None
                self._requests.append(replace(recorded, fault=fault))
            await self._pause(self.latency)
            if not authorized:
                return _error(401, INVALID_CREDENTIALS)
            if fault == "timeout":
                await self._pause(self.hang_seconds)
            elif fault is not None and fault not in STREAM_FAULTS:
                return self._fault_response(fault, recorded)
            try:
                return await handler(recorded, fault)
            except _BadRequest as error:
                return _error(400, str(error))

        return endpoint

    def _fault_response(self, fault: Fault, request: RecordedRequest) -> Response:
        if fault == "loading":
            return _error(503, "Model is currently loading", estimated_time=self.estimated_time)
        if fault == "rate_limit":
            return _error(429, "Rate limit reached. You reached free usage limit (reset hourly).")
        if fault == "unauthorized":
            return _error(401, INVALID_CREDENTIALS)
        if fault == "forbidden":
            return _error(403, "This token does not have permission to call Inference Providers")
        if fault == "server_error":
            return _error(500, "Internal server error")
        if fault == "bad_gateway":
            return HTMLResponse(_BAD_GATEWAY_PAGE, status_code=502)
        if fault == "malformed_html":
            return HTMLResponse(_HTML_PAGE)
        if fault == "malformed_json":
            return JSONResponse({"unexpected": True})
        if fault == "pinned_model":
            # FastAPI's HTTPException body, as `transformers serve` answers a request for another model.
            reason = f"Server is pinned to {PINNED_MODEL!r}; requested {_requested_model(request)!r}."
            return JSONResponse({"detail": reason}, status_code=400)
        if fault == "unknown_model":
            # OpenAI's error object, which vLLM and llama.cpp's server copy.
            reason = (
                f"The model `{_requested_model(request)}` does not exist or you do not have access to it."
            )
            error = {
                "message": reason,
                "type": "invalid_request_error",
                "param": None,
                "code": "model_not_found",
            }
            return JSONResponse({"error": error}, status_code=404)
        if fault == "invalid_body":
            # FastAPI's request validation errors.
            missing = {"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": None}
            return JSONResponse({"detail": [missing]}, status_code=422)
        raise AssertionError(f"{fault!r} is not answered by a whole response")

    async def _pause(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early when the server stops; False means it is stopping."""
        assert self._stopping is not None
        if seconds > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return not self._stopping.is_set()

    async def _summarize(self, request: RecordedRequest, _fault: Fault | None) -> Response:
        text = _text_input(request.json)
        generate_parameters = _parameters(request.json).get("generate_parameters")
        max_length = generate_parameters.get("max_length") if isinstance(generate_parameters, dict) else None
        if max_length is not None and not _is_positive_int(max_length):
            raise _BadRequest("generate_parameters.max_length must be a positive integer")
        return JSONResponse([{"summary_text": summary_for(text, max_length)}])

    async def _ner(self, request: RecordedRequest, _fault: Fault | None) -> Response:
        text = _text_input(request.json)
        shape = self.ner_shape
        if shape is None:
            strategy = _parameters(request.json).get("aggregation_strategy", "none")
            shape = "pieces" if strategy == "none" else "grouped"
        return JSONResponse(NER_REPLIES[shape](text, self.gazetteer))

    async def _caption(self, request: RecordedRequest, _fault: Fault | None) -> Response:
        # Without parameters InferenceClient sends the raw image; with parameters, base64 inside JSON.
        body = request.body
        if isinstance(request.json, dict) and isinstance(request.json.get("inputs"), str):
            try:
                body = base64.b64decode(request.json["inputs"], validate=True)
            except binascii.Error:
                raise _BadRequest("inputs must be a base64-encoded image") from None
        try:
            with Image.open(io.BytesIO(body)) as image:
                image.load()
                caption = caption_for(image)
        except (UnidentifiedImageError, OSError):
            raise _BadRequest("cannot identify image file") from None
        return JSONResponse([{"generated_text": caption}])

    async def _imagegen(self, request: RecordedRequest, _fault: Fault | None) -> Response:
        prompt = _text_input(request.json)
        parameters = _parameters(request.json)
        width = parameters.get("width", DEFAULT_IMAGE_SIZE)
        height = parameters.get("height", DEFAULT_IMAGE_SIZE)
        low, high = IMAGE_SIZE_RANGE
        if not all(_is_positive_int(size) and low <= size <= high for size in (width, height)):
            raise _BadRequest(f"width and height must be integers between {low} and {high}")
        seed = parameters.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise _BadRequest("seed must be an integer")
        png = _solid_png(width, height, image_color_for(prompt, seed))
        return Response(png, media_type="image/png")

    async def _chat(self, request: RecordedRequest, fault: Fault | None) -> Response:
        payload = request.json
        messages = payload.get("messages") if isinstance(payload, dict) else None
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise _BadRequest("body must be a JSON object with a non-empty list of messages")
        if self.refuse_pictures and received_pictures(messages):
            # vLLM's error body, as its OpenAI-compatible server answers a model without a vision tower.
            reason = f"{_requested_model(request)} is not a multimodal model"
            error = {"object": "error", "message": reason, "type": "BadRequestError", "code": 400}
            return JSONResponse(error, status_code=400)
        tools = payload.get("tools")
        if tools and self.refuse_tools:
            refusal = {"message": TOOLS_REFUSED, "type": "BadRequestError", "param": None, "code": 400}
            return JSONResponse({"error": refusal}, status_code=400)
        rounds_done = tool_rounds_done(messages)
        calls = (
            requested_tool_calls(messages, tools)
            if payload.get("tool_choice") != "none" and rounds_done < self.tool_rounds
            else []
        )
        answer = chat_reply_with_tools(messages)
        if calls:
            tokens = tool_call_deltas(calls, rounds_done + 1)
        elif answer is not None:
            tokens = [{"content": token} for token in chat_tokens(answer)]
        else:
            tokens = chat_deltas(messages, self.reasoning)
        max_tokens = payload.get("max_tokens")
        if max_tokens is not None and not _is_positive_int(max_tokens):
            raise _BadRequest("max_tokens must be a positive integer")
        cut = max_tokens is not None and len(tokens) > max_tokens
        finish_reason = "length" if cut else "tool_calls" if calls else "stop"
        tokens = tokens[:max_tokens]
        usage = {
            "prompt_tokens": sum(len(_message_text(message).split()) for message in messages),
            "completion_tokens": len(tokens),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        header = {
            "id": f"chatcmpl-{next(self._completion_ids)}",
            "created": int(time.time()),
            "model": str(payload.get("model", "")),
            "system_fingerprint": "inference-test-server",
        }
        if payload.get("stream") is True:
            options = payload.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            chunks = self._chat_chunks(header, tokens, finish_reason, usage, include_usage, fault)
            return StreamingResponse(chunks, media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant"}
        for field in sorted({field for delta in tokens for field in delta} - {"tool_calls"}):
            message[field] = "".join(delta.get(field, "") for delta in tokens)
        message.setdefault("content", "")
        if calls:
            message["tool_calls"] = [
                {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": arguments}}
                for n, (name, arguments) in enumerate(calls)
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        return JSONResponse({**header, "object": "chat.completion", "choices": [choice], "usage": usage})

    async def _chat_chunks(
        self,
        header: dict[str, Any],
        tokens: list[dict[str, str]],
        finish_reason: str,
        usage: dict[str, int],
        include_usage: bool,
        fault: Fault | None,
    ) -> AsyncIterator[bytes]:
        """Server-sent events as TGI and OpenAI send them; a stream fault strikes after half the tokens,
        but a prompt over the window is refused before the first."""
        with self._stream_open():
            if fault == "stream_over_window":
                yield _sse({"error": self._over_window_error(usage["prompt_tokens"])})
                return
            chunk = {**header, "object": "chat.completion.chunk"}
            for position, token in enumerate(tokens):
                at_fault = fault is not None and position == len(tokens) // 2
                if at_fault and fault == "stream_end":
                    return  # a clean close: no final chunk, no finish reason, no [DONE]
                if at_fault and fault == "stream_error":
                    yield _sse({"error": GENERATION_FAILURE, "error_type": "generation"})
                    return
                if at_fault and (fault == "stream_cut" or not await self._pause(self.hang_seconds)):
                    raise _StreamAborted(fault)
                if position and not await self._pause(self.token_delay):
                    raise _StreamAborted("server stopping")
                delta = {"role": "assistant", **token}
                yield _sse({**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            final = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]}
            yield _sse({**final, "usage": usage} if include_usage else final)
            yield b"data: [DONE]\n\n"

    @contextlib.contextmanager
    def _stream_open(self) -> Iterator[None]:
        """Count a chat stream as open while its body is sent, for `peak_streams`."""
        with self._lock:
            self._open_streams += 1
            self._peak_streams = max(self._peak_streams, self._open_streams)
        try:
            yield
        finally:
            with self._lock:
                self._open_streams -= 1

    def _over_window_error(self, prompt_tokens: int) -> dict[str, Any]:
        """The error event for a prompt over `context_window`: llama.cpp's older words, which name no
        figure, or llama-cpp-python's, which name both."""
        if self.server_kind == "llama.cpp":
            message = "the request exceeds the available context size, try increasing it"
            return {"code": 400, "message": message, "type": "exceed_context_size_error"}
        message = f"Requested tokens ({prompt_tokens}) exceed context window of {self.context_window}"
        return {"message": message, "type": "invalid_request_error"}

    async def _server_info(self, request: Request) -> Response:
        """The self-description of the configured `server_kind` at this path, or 404 as other servers
        answer; authorized as inference requests are."""
        path = request.url.path.removeprefix(BASE_PATHS["chat"])
        with self._lock:
            self._info_requests.append(f"{request.method} {path}")
        if self.required_token is not None and (
            request.headers.get("authorization") != f"Bearer {self.required_token}"
        ):
            return _error(401, INVALID_CREDENTIALS)
        description = self._description(path, _parse_json(await request.body()))
        if description is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        return JSONResponse(description)

    def _description(self, path: str, body: Any) -> dict[str, Any] | None:
        """What the kind's own server answers at `path`, trimmed to the fields that matter here."""
        kind, window = self.server_kind, self.context_window
        llama_cpp_model = {"id": "tiny-chat-Q4_K_M.gguf", "object": "model", "owned_by": "llamacpp"}
        if kind == "tgi" and path == "/info":
            return {"model_id": SERVED_MODEL, "max_input_tokens": window, "max_total_tokens": 2 * window}
        if kind == "vllm" and path == "/v1/models":
            served = [(OTHER_SERVED_MODEL, 4 * window), (SERVED_MODEL, window)]
            models = [{"id": model, "object": "model", "max_model_len": length} for model, length in served]
            return {"object": "list", "data": models}
        if kind == "llama.cpp" and path == "/props":
            return {"default_generation_settings": {"n_ctx": window}, "total_slots": self.slots}
        if kind == "llama.cpp" and path == "/v1/models":
            # The window the model was trained with, which the server may run below.
            return {"object": "list", "data": [{**llama_cpp_model, "meta": {"n_ctx_train": 4 * window}}]}
        if kind == "llama.cpp-models" and path == "/v1/models":
            return {"object": "list", "data": [{**llama_cpp_model, "meta": {"n_ctx_train": window}}]}
        if kind == "ollama" and path == "/api/show" and _field(body, "model") == SERVED_MODEL:
            info = {"general.architecture": "gemma2", "gemma2.context_length": window}
            return {"parameters": 'stop "<end_of_turn>"', "model_info": info}
        return None


class _Uvicorn(uvicorn.Server):
    """A uvicorn server that signals once it listens, so start() returns only when requests are served."""

    def __init__(self, config: uvicorn.Config, started: threading.Event) -> None:
        super().__init__(config)
        self._started = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._started.set()


def _pieces(word: re.Match[str], offset: int = 0) -> list[tuple[int, int]]:
    """Character spans of a word's pieces of at most four characters."""
    start, end = word.start() + offset, word.end() + offset
    return [(piece, min(piece + _WORD_PIECE_LENGTH, end)) for piece in range(start, end, _WORD_PIECE_LENGTH)]


def _piece_score(index: int) -> float:
    return round(0.99 - 0.001 * index, 4)


def _message_text(message: Mapping[str, Any]) -> str:
    """Message content as text, whether a string or a list of OpenAI content parts."""
    content = message.get("content")
    if isinstance(content, list):
        texts = [part for part in content if isinstance(part, dict) and part.get("type", "text") == "text"]
        return " ".join(part.get("text", "") for part in texts)
    return content if isinstance(content, str) else ""


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # includes UnicodeDecodeError
        return None


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else None


def _requested_model(request: RecordedRequest) -> str | None:
    """The model a request names: chat payloads do, other tasks' payloads name none."""
    return request.json.get("model") if isinstance(request.json, dict) else None


def _text_input(payload: Any) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), str):
        raise _BadRequest('body must be a JSON object with a string "inputs"')
    if not payload["inputs"].strip():
        raise _BadRequest("inputs must not be empty")
    return payload["inputs"]


def _parameters(payload: Any) -> dict[str, Any]:
    parameters = payload.get("parameters") if isinstance(payload, dict) else None
    return parameters if isinstance(parameters, dict) else {}


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


@lru_cache(maxsize=64)
def _solid_png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    """Cached because load tests ask for the same few images over and over."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()
