"""Chat with an instruct model, streamed token by token.

Annotations here are evaluated, not postponed: `gr.api` reads them to describe the JSON endpoint.
"""

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr

from common.backends import ChatBackend, chat_backend
from common.chat import ConversationTooLongError, Message, check_history, fit_to_window, normalize_history
from common.chat_models import offered_models, with_chat_model
from common.errors import (
    ContextWindowExceededError,
    InferenceError,
    InputRejectedError,
    MalformedReplyError,
    StreamInterruptedError,
    backend_error,
    phrase,
    report,
    user_error,
)
from common.i18n import DEFAULT_LANGUAGE, text
from common.pictures import Content, MultimodalMessage, Sight, read_pictures, refused_pictures, user_content
from common.reasoning import ReplyDelta
from common.settings import Settings
from common.tool_calls import ToolCall
from common.tools import Tool, ToolBox, ToolResult
from common.ui import show_note, visitor_token
from common.validation import Range, check_float, check_int, clean_text

logger = logging.getLogger("common")

# The API's default; the page shows it in the visitor's language.
DEFAULT_SYSTEM_MESSAGE = text("chatbot_system_message_default", DEFAULT_LANGUAGE)
TEMPERATURE = Range(minimum=0.1, maximum=1.0, default=0.7, step=0.1)
MAX_TOKENS = Range(minimum=1, maximum=4096, default=512)
MAX_MESSAGE_CHARS = 16_000

ChatOutput = str | list[dict[str, Any]]
"""The reply so far. A reply of text alone is text. Otherwise it is a list of assistant messages, in
the order they happened: the model's reasoning and each tool it called, marked by their `metadata`
title as Gradio's chat shows a thought, pictures the tools returned, the answer; a reply cut short
ends with a note saying why, also titled."""

MAX_TOOL_ROUNDS = 5
"""Rounds of tool calls in one reply; the model then answers with what they returned."""
MAX_CALLS_PER_ROUND = 5
"""Tool calls run in one round; the model reads that any more were not run."""

# A model or server that refused `tools` is sent plain chat for this long before it is offered tools
# again (it may be redeployed with tool calling on).
TOOLS_REFUSED_FOR = 600.0


@dataclass
class _Thought:
    text: str
    started: float
    seconds: float | None = None


@dataclass
class _Step:
    call: ToolCall
    started: float
    result: ToolResult | None = None
    seconds: float | None = None


class ShownReply:
    """The reply as the visitor sees it while it streams, across every round of tool calls.

    Each round's reasoning, when the model reasons, is a message of its own that the page shows
    collapsible (pending while it is written, then done, with the seconds from the round's start to
    its answer); each tool call is a collapsible step (its arguments, then its result, and the
    pictures it returned after it); then the answer. A reply of text alone is shown as text, as it
    always was, so callers that read text keep reading text.
    """

    def __init__(self) -> None:
        self._parts: list[_Thought | _Step | dict[str, Any] | str] = []
        self._round_started = time.monotonic()
        self._shown: ChatOutput | None = None

    @property
    def empty(self) -> bool:
        return not any(self._visible(part) for part in self._parts)

    @property
    def answer(self) -> str:
        """The text of the current round: what the model wrote besides its reasoning and tool calls."""
        return self._parts[-1] if self._parts and isinstance(self._parts[-1], str) else ""

    def start_round(self) -> None:
        """The model is asked again, with the results of the tools it called."""
        self.finish_thinking()
        self._round_started = time.monotonic()

    def add(self, delta: ReplyDelta) -> None:
        last = self._parts[-1] if self._parts else None
        if delta.reasoning:
            if isinstance(last, _Thought) and last.seconds is None:
                last.text += delta.text
            else:
                self._parts.append(_Thought(delta.text, self._round_started))
            return
        if isinstance(last, str):
            self._parts[-1] = last + delta.text
            return
        text = delta.text.lstrip() if isinstance(last, _Thought) else delta.text
        # Beside a thought, the blank lines a server sends between reasoning and answer are no answer.
        if text:
            self.finish_thinking()
            self._parts.append(text)

    def finish_thinking(self) -> None:
        """The round's reasoning is over: the answer began, or the round ended without one."""
        for part in self._parts:
            if isinstance(part, _Thought) and part.seconds is None:
                part.seconds = round(time.monotonic() - part.started, 1)

    def call(self, call: ToolCall) -> _Step:
        """Show a tool call as it starts; `done` shows its result."""
        self.finish_thinking()
        step = _Step(call, time.monotonic())
        self._parts.append(step)
        return step

    @staticmethod
    def done(step: _Step, result: ToolResult) -> None:
        step.result, step.seconds = result, round(time.monotonic() - step.started, 1)

    def note(self, title_key: str, content: str) -> None:
        """A titled note in the reply: a fallback, a limit reached. The model never sees it."""
        self._parts.append(titled(text(title_key), content))

    def output(self, note: dict[str, Any] | None = None) -> ChatOutput:
        self._shown = self._output(note)
        return self._shown

    def last_output(self) -> ChatOutput | None:
        """The reply as it ends, with its reasoning over; None when the visitor already sees that."""
        self.finish_thinking()
        final = self._output()
        return None if final == self._shown else self.output()

    def _output(self, note: dict[str, Any] | None = None) -> ChatOutput:
        parts = [part for part in self._parts if self._visible(part)]
        if note is None and all(isinstance(part, str) for part in parts):
            return "".join(parts)  # type: ignore[arg-type]
        messages: list[dict[str, Any]] = []
        for part in parts:
            if isinstance(part, str):
                messages.append({"role": "assistant", "content": part})
            elif isinstance(part, _Thought):
                messages.append(_thought_message(part))
            elif isinstance(part, _Step):
                messages += _step_messages(part)
            else:
                messages.append(part)
        return messages if note is None else [*messages, note]

    @staticmethod
    def _visible(part: _Thought | _Step | dict[str, Any] | str) -> bool:
        return bool(part.text.strip()) if isinstance(part, _Thought) else bool(part)


def titled(title: str, content: str, **metadata: Any) -> dict[str, Any]:
    """An assistant message the page shows as a titled, collapsible thought."""
    return {"role": "assistant", "content": content, "metadata": {"title": title, **metadata}}


def _thought_message(thought: _Thought) -> dict[str, Any]:
    title = text("chatbot_thinking_title")
    if thought.seconds is None:
        return titled(title, thought.text.strip(), status="pending")
    return titled(title, thought.text.strip(), status="done", duration=thought.seconds)


def _step_messages(step: _Step) -> list[dict[str, Any]]:
    """A tool call as a titled step (arguments, then result), then the pictures it returned."""
    call, result = step.call, step.result
    title = text("chatbot_tool_title", tool=call.name)
    content = text("chatbot_tool_arguments", arguments=fenced(_shown_arguments(call.arguments), "json"))
    if result is None:
        return [titled(title, content, status="pending")]
    content += "\n\n" + text("chatbot_tool_result", result=fenced(result.text))
    metadata: dict[str, Any] = {"status": "done", "duration": step.seconds}
    if result.failed:
        metadata["log"] = text("chatbot_tool_failed")
    message = titled(title, content, **metadata)
    pictures = [
        {"role": "assistant", "content": {"path": str(path), "meta": {"_type": "gradio.FileData"}}}
        for path in result.images
    ]
    return [message, *pictures]


def fenced(content: str, language: str = "") -> str:
    """`content` as a Markdown code block it cannot close: a tool's result is anyone's text (a web
    page, a document), and out of its block it could show an image from any address, which the
    visitor's browser would fetch. The fence is longer than any run of backticks inside."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{content}\n{fence}"


def _shown_arguments(arguments: str) -> str:
    """The arguments as indented JSON, or as the model wrote them when they are not JSON."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False, indent=2)
    except ValueError:
        return arguments


def _asking(text_so_far: str, calls: list[ToolCall]) -> Message:
    """The model's own turn that asked for `calls`, as the next request repeats it."""
    asked = [call.as_message_part() for call in calls]
    return {"role": "assistant", "content": text_so_far, "tool_calls": asked}


class ToolsRefusedError(Exception):
    """The server refused a request that offered tools (4xx): the reply goes on as plain chat."""

    def __init__(self, error: InferenceError) -> None:
        super().__init__(str(error))
        self.reason: str = error.fields(None)["detail"]
        """The server's own words: "HTTP 400: ..."."""


class _RoundEnded(Exception):
    """A round failed after the reply had begun; what arrived has been shown with a note."""


@dataclass(frozen=True)
class _Request:
    """What one round sends the model."""

    messages: list[Message]
    temperature: float
    max_tokens: int
    tools: list[dict[str, Any]] | None
    tool_choice: str | None
    token: str | None

    def without_tools(self) -> "_Request":
        return replace(self, tools=None, tool_choice=None)


class ChatTask:
    def __init__(self, settings: Settings, tools: ToolBox | None = None) -> None:
        self.model = settings.chat.model
        self.models = offered_models(settings)
        self._backends = {
            model: chat_backend(with_chat_model(settings, model), show_note) for model in self.models
        }
        self.tools = tools or ToolBox(settings.mcp_servers or (), show_note)
        self._tools_refused_until: dict[str, float] = {}
        # Whether each model sees pictures, so one it cannot see is refused before any call.
        self._sights = {
            model: Sight.of(with_chat_model(settings, model), self.models) for model in self.models
        }

    @property
    def offers_tools(self) -> bool:
        """Whether any model here may be offered tools: there are servers, and a backend that calls them."""
        return bool(self.tools.servers) and any(backend.calls_tools for backend in self._backends.values())

    def choose_model(self, model: str) -> str:
        """Pick the model that answers the next messages of this session.

        Args:
            model: the id of one of the offered models (the model picker's choices).

        Returns:
            The model id now in use.
        """
        if model not in self.models:
            raise user_error("chatbot_unknown_model", model=model, models=", ".join(self.models))
        return model

    async def chat(
        self,
        message: str | MultimodalMessage,
        system_message: str = DEFAULT_SYSTEM_MESSAGE,
        temperature: float = TEMPERATURE.default,
        max_tokens: int = int(MAX_TOKENS.default),
        history: list[dict[str, Any]] | None = None,
        model: str | None = None,
        use_tools: bool = True,
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[ChatOutput]:
        """Answer a chat message, streaming the reply as it is generated.

        Nothing is kept between calls: to continue a conversation, send it as `history`. A reply of
        text alone is text. A reply with the model's reasoning or with tool calls ends as messages
        instead: each reasoning and each tool call (its arguments and result) in a titled message,
        pictures a tool returned, then the answer; a reply cut short ends with a note saying why,
        also titled. Titled messages are left out of `history` when it is sent back.

        Args:
            message: the user's message: its text, or {"text": ..., "files": [...]} with up to 4
                pictures, each uploaded to this app (gradio_client's handle_file) or a data: URL
                ("data:image/png;base64,..."), for a model that sees pictures.
            system_message: instructions that frame the assistant's behaviour.
            temperature: sampling temperature (0.1-1); higher is more varied.
            max_tokens: the longest reply to generate, in tokens.
            history: earlier messages, oldest first: {"role": "user" or "assistant", "content": text};
                a user's pictures as parts of the content, {"type": "file", "file": <uploaded file>}
                or {"type": "image_url", "image_url": {"url": "data:..."}}, before a text part.
            model: one of the offered models; by default the configured one.
            use_tools: whether the model may call the tools of the app's MCP servers.

        Returns:
            the reply so far, growing as tokens arrive
        """
        async for output in self._reply(
            message,
            check_history(history),
            system_message,
            temperature,
            max_tokens,
            model,
            use_tools,
            oauth_token,
        ):
            yield output

    async def page_chat(
        self,
        message: str | MultimodalMessage,
        history: list[dict[str, Any]],
        system_message: str = DEFAULT_SYSTEM_MESSAGE,
        temperature: float = TEMPERATURE.default,
        max_tokens: int = int(MAX_TOKENS.default),
        model: str | None = None,
        use_tools: bool = True,
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[ChatOutput]:
        """The page's chat: `chat` with the history the page keeps for its visitor, where a message
        that cannot be answered ends as a note in the conversation instead of an error.

        Gradio's chat interface stays disabled after its function raises (the events that enable
        the message box again run only on success), so the page never sees a raised error: the
        visitor reads why under their message, and retry sends it again.
        """
        try:
            async for output in self._reply(
                message, history, system_message, temperature, max_tokens, model, use_tools, oauth_token
            ):
                yield output
        except gr.Error as error:
            yield [titled(text("note_no_reply_title"), error.message)]

    async def _reply(
        self,
        message: str | MultimodalMessage,
        history: list[dict[str, Any]],
        system_message: str,
        temperature: float,
        max_tokens: int,
        model: str | None,
        use_tools: bool,
        oauth_token: gr.OAuthToken | None,
    ) -> AsyncIterator[ChatOutput]:
        model = self.choose_model(model or self.model)
        backend = self._backends[model]
        system_message = clean_text(
            system_message, what="field_system_message", max_chars=MAX_MESSAGE_CHARS, required=False
        )
        content = user_content(message, max_chars=MAX_MESSAGE_CHARS)
        temperature = check_float(temperature, name="temperature", allowed=TEMPERATURE)
        max_tokens = check_int(max_tokens, name="max_tokens", allowed=MAX_TOKENS)

        earlier = self._sights[model].admit(content, normalize_history(history))
        try:
            messages = await self._fit(backend, system_message, earlier, content, max_tokens)
        except InferenceError as error:
            raise backend_error(error) from error
        messages = await read_pictures(messages)
        token = visitor_token(oauth_token)
        tools = {tool.model_name: tool for tool in await self._tools_for(model, backend, use_tools)}
        reply = ShownReply()
        for round_number in range(1, MAX_TOOL_ROUNDS + 2):
            # The last request still offers the tools (servers refuse tool results without them) but
            # forbids calling them, so the model answers with what they returned.
            last_round = round_number > MAX_TOOL_ROUNDS
            offered = [tool.spec() for tool in tools.values()] if self._offers_tools(model, tools) else None
            calls: list[ToolCall] = []
            choice = "none" if last_round else None
            request = _Request(messages, temperature, max_tokens, offered, choice, token)
            try:
                async for output in self._round_or_plain(model, backend, request, reply, calls):
                    yield output
            except _RoundEnded:
                return
            if last_round:  # whether or not the model still asks, its calls are not run
                reply.note("note_tool_rounds_title", text("note_tool_rounds", rounds=MAX_TOOL_ROUNDS))
                break
            if not calls:
                break
            messages = [*messages, _asking(reply.answer, calls)]
            for number, call in enumerate(calls, start=1):
                step = reply.call(call)
                yield reply.output()
                reply.done(step, await self._run(tools, call, number, token))
                yield reply.output()
                messages.append({"role": "tool", "tool_call_id": call.id, "content": step.result.text})
            reply.start_round()
        if reply.empty:
            raise backend_error(MalformedReplyError(backend.where, phrase("detail_empty_stream")))
        final = reply.last_output()
        if final is not None:
            yield final

    def _offers_tools(self, model: str, tools: dict[str, Tool]) -> bool:
        return bool(tools) and not self._refused_tools(model)

    def _refused_tools(self, model: str) -> bool:
        """Whether `model` refused tools a short while ago, in this reply or an earlier one."""
        return time.monotonic() < self._tools_refused_until.get(model, 0.0)

    async def _run(
        self, tools: dict[str, Tool], call: ToolCall, number: int, token: str | None
    ) -> ToolResult:
        if number > MAX_CALLS_PER_ROUND:
            return ToolResult(text("chatbot_tool_not_run", calls=MAX_CALLS_PER_ROUND), failed=True)
        tool = tools.get(call.name)
        if tool is None:  # a model may make one up
            unknown = text("chatbot_no_such_tool", tool=call.name, tools=", ".join(tools))
            return ToolResult(unknown, failed=True)
        return await self.tools.call(tool, call, token)

    async def _round_or_plain(
        self, model: str, backend: ChatBackend, request: _Request, reply: ShownReply, calls: list[ToolCall]
    ) -> AsyncIterator[ChatOutput]:
        """One round; if the server refuses it for its tools, a note and the same round as plain chat.
        The refusal is remembered for a while, so later messages do not ask in vain first."""
        try:
            async for output in self._round(backend, request, reply, calls):
                yield output
        except ToolsRefusedError as refusal:
            reason = refusal.reason
            logger.warning(
                "%s refused a request with tools, so it is sent without: %s", backend.where, reason
            )
            reply.note("note_tools_refused_title", text("note_tools_refused", error=reason))
            async for output in self._round(backend, request.without_tools(), reply, calls):
                yield output
            # Only once the same request went through without them: it was the tools that were refused
            # (not, say, the pictures).
            self._tools_refused_until[model] = time.monotonic() + TOOLS_REFUSED_FOR

    async def _tools_for(self, model: str, backend: ChatBackend, use_tools: bool) -> list[Tool]:
        """The tools offered to `model`: none when the visitor turned them off, the backend cannot
        offer them, or the model refused them a short while ago."""
        if not use_tools or not backend.calls_tools or not self.tools.servers or self._refused_tools(model):
            return []
        return await self.tools.tools()

    async def _round(
        self, backend: ChatBackend, request: _Request, reply: ShownReply, calls: list[ToolCall]
    ) -> AsyncIterator[ChatOutput]:
        """One request to the model: its reply streamed into `reply`, the tools it calls into `calls`.

        Raises `ToolsRefusedError` when the server refused the request for its tools before writing
        anything, and `_RoundEnded` once a failure that leaves something to show has been shown.
        """
        stream = backend.stream_reply(
            request.messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            tools=request.tools,
            tool_choice=request.tool_choice,
            token=request.token,
        )
        started_empty = reply.empty
        try:
            async for item in stream:
                if isinstance(item, ToolCall):
                    calls.append(item)
                    continue
                reply.add(item)
                if not reply.empty:
                    yield reply.output()
        except InputRejectedError as error:
            # A prompt over the window is refused with or without tools.
            over_window = isinstance(error, ContextWindowExceededError)
            if request.tools and not over_window and not calls and reply.answer == "":
                raise ToolsRefusedError(error) from error
            raise backend_error(refused_pictures(error, request.messages)) from error
        except StreamInterruptedError as error:
            if reply.empty:
                raise backend_error(error) from error
            report(error)
            reply.finish_thinking()
            # The visitor keeps what arrived, with a note the model will not see.
            note = text(error.note_key, error=error.describe())
            yield reply.output(titled(text("note_reply_cut_title"), note))
            raise _RoundEnded from error
        except InferenceError as error:
            if started_empty:
                raise backend_error(error) from error
            # A later round failed: the steps the visitor has seen stay, with why there is no answer.
            report(error)
            yield reply.output(titled(text("note_no_reply_title"), backend_error(error).message))
            raise _RoundEnded from error
        finally:
            await stream.aclose()

    @staticmethod
    async def _fit(
        backend: ChatBackend, system_message: str, history: list[Message], message: Content, max_tokens: int
    ) -> list[Message]:
        """The messages to send, leaving room for the reply in the model's context window; the visitor
        is told when the oldest turns had to be left out."""
        window = await backend.context_window()
        try:
            fitted = await fit_to_window(
                system_message, history, message, budget=window - max_tokens, count=backend.count_tokens
            )
        except ConversationTooLongError as error:
            raise user_error(
                "chatbot_message_too_long",
                tokens=error.tokens,
                max_tokens=max_tokens,
                window=window,
                where=backend.where,
            ) from None
        if fitted.turns_left_out:
            show_note("chatbot_turns_left_out", turns=fitted.turns_left_out)
        return fitted.messages
