"""Chat with an instruct model, streamed token by token.

Annotations here are evaluated, not postponed: `gr.api` reads them to describe the JSON endpoint.
"""

import time
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from common.backends import ChatBackend, chat_backend
from common.chat import ConversationTooLongError, Message, check_history, fit_to_window, normalize_history
from common.chat_models import offered_models, with_chat_model
from common.errors import (
    InferenceError,
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
from common.ui import show_note, visitor_token
from common.validation import Range, check_float, check_int, clean_text

# The API's default; the page shows it in the visitor's language.
DEFAULT_SYSTEM_MESSAGE = text("chatbot_system_message_default", DEFAULT_LANGUAGE)
TEMPERATURE = Range(minimum=0.1, maximum=1.0, default=0.7, step=0.1)
MAX_TOKENS = Range(minimum=1, maximum=4096, default=512)
MAX_MESSAGE_CHARS = 16_000

ChatOutput = str | list[dict[str, Any]]
"""The reply so far. A reply with reasoning is a list of assistant messages: the reasoning, marked by
its `metadata` title as Gradio's chat shows a thought, then the answer; a reply cut short ends with
a note saying why, also titled, after the reply."""


class ShownReply:
    """The reply as the visitor sees it while it streams: the model's reasoning, when it reasons, in
    a message of its own that the page shows collapsible (pending while it is written, then done,
    with the seconds from the request to the answer), then the answer.

    A reply without reasoning is shown as text, as it always was, so callers that read text keep
    reading text.
    """

    def __init__(self) -> None:
        self.reasoning = ""
        self.answer = ""
        self._started = time.monotonic()
        self._thought_for: float | None = None

    @property
    def empty(self) -> bool:
        return not self.answer and not self.reasoning.strip()

    def add(self, delta: ReplyDelta) -> None:
        if delta.reasoning:
            self.reasoning += delta.text
            return
        self.answer += delta.text
        if self.reasoning.strip() and self.answer.strip():
            self.finish_thinking()

    def finish_thinking(self) -> None:
        """The reasoning is over: the answer began, or the reply ended without one."""
        if self._thought_for is None:
            self._thought_for = round(time.monotonic() - self._started, 1)

    def output(self, note: dict[str, Any] | None = None) -> ChatOutput:
        thought = self.reasoning.strip()
        if not thought and note is None:
            return self.answer
        messages: list[dict[str, Any]] = []
        if thought:
            metadata: dict[str, Any] = {"title": text("chatbot_thinking_title"), "status": "pending"}
            if self._thought_for is not None:
                metadata.update(status="done", duration=self._thought_for)
            messages.append({"role": "assistant", "content": thought, "metadata": metadata})
        # Beside a thought, the blank lines a server sends between reasoning and answer are no answer.
        answer = self.answer.lstrip() if thought else self.answer
        if answer:
            messages.append({"role": "assistant", "content": answer})
        return messages if note is None else [*messages, note]


class ChatTask:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.chat.model
        self.models = offered_models(settings)
        self._backends = {
            model: chat_backend(with_chat_model(settings, model), show_note) for model in self.models
        }
        # Whether each model sees pictures, so one it cannot see is refused before any call.
        self._sights = {
            model: Sight.of(with_chat_model(settings, model), self.models) for model in self.models
        }

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
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[ChatOutput]:
        """Answer a chat message, streaming the reply as it is generated.

        Nothing is kept between calls: to continue a conversation, send it as `history`. A reply with
        the model's reasoning ends as messages instead of text: the reasoning, titled, then the answer;
        a reply cut short ends with a note saying why, also titled. Titled messages are left out of
        `history` when it is sent back.

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

        Returns:
            the reply so far, growing as tokens arrive
        """
        async for output in self._reply(
            message, check_history(history), system_message, temperature, max_tokens, model, oauth_token
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
                message, history, system_message, temperature, max_tokens, model, oauth_token
            ):
                yield output
        except gr.Error as error:
            yield [
                {
                    "role": "assistant",
                    "content": error.message,
                    "metadata": {"title": text("note_no_reply_title")},
                }
            ]

    async def _reply(
        self,
        message: str | MultimodalMessage,
        history: list[dict[str, Any]],
        system_message: str,
        temperature: float,
        max_tokens: int,
        model: str | None,
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
        stream = backend.stream_reply(
            messages, temperature=temperature, max_tokens=max_tokens, token=visitor_token(oauth_token)
        )
        reply = ShownReply()
        try:
            async for delta in stream:
                reply.add(delta)
                if not reply.empty:
                    yield reply.output()
        except StreamInterruptedError as error:
            if reply.empty:
                raise backend_error(error) from error
            report(error)
            reply.finish_thinking()
            # The visitor keeps what arrived, with a note the model will not see.
            yield reply.output(
                {
                    "role": "assistant",
                    "content": text(error.note_key, error=error.describe()),
                    "metadata": {"title": text("note_reply_cut_title")},
                }
            )
            return
        except InferenceError as error:
            raise backend_error(refused_pictures(error, messages)) from error
        finally:
            await stream.aclose()
        if reply.empty:
            raise backend_error(MalformedReplyError(backend.where, phrase("detail_empty_stream")))
        if not reply.answer:  # the model only thought: its thought is over all the same
            reply.finish_thinking()
            yield reply.output()

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
