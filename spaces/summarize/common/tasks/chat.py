"""Chat with an instruct model, streamed token by token.

Annotations here are evaluated, not postponed: `gr.api` reads them to describe the JSON endpoint.
"""

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
from common.settings import Settings
from common.ui import show_note, visitor_token
from common.validation import Range, check_float, check_int, clean_text

# The API's default; the page shows it in the visitor's language.
DEFAULT_SYSTEM_MESSAGE = text("chatbot_system_message_default", DEFAULT_LANGUAGE)
TEMPERATURE = Range(minimum=0.1, maximum=1.0, default=0.7, step=0.1)
MAX_TOKENS = Range(minimum=1, maximum=4096, default=512)
MAX_MESSAGE_CHARS = 16_000

ChatOutput = str | list[dict[str, Any]]
"""The reply so far; for a reply cut short, at the end the reply and a note saying why, as two
assistant messages (the note marked by its `metadata` title, as Gradio's chat shows it)."""


class ChatTask:
    def __init__(self, settings: Settings) -> None:
        self.model = settings.chat.model
        self.models = offered_models(settings)
        self._backends = {
            model: chat_backend(with_chat_model(settings, model), show_note) for model in self.models
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
        message: str,
        system_message: str = DEFAULT_SYSTEM_MESSAGE,
        temperature: float = TEMPERATURE.default,
        max_tokens: int = int(MAX_TOKENS.default),
        history: list[dict[str, Any]] | None = None,
        model: str | None = None,
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[ChatOutput]:
        """Answer a chat message, streaming the reply as it is generated.

        Nothing is kept between calls: to continue a conversation, send it as `history`. A reply cut
        short ends as two messages instead of text: the reply, then a note saying why.

        Args:
            message: the user's message.
            system_message: instructions that frame the assistant's behaviour.
            temperature: sampling temperature (0.1-1); higher is more varied.
            max_tokens: the longest reply to generate, in tokens.
            history: earlier messages, oldest first: {"role": "user" or "assistant", "content": text}.
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
        message: str,
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
        message: str,
        history: list[dict[str, Any]],
        system_message: str,
        temperature: float,
        max_tokens: int,
        model: str | None,
        oauth_token: gr.OAuthToken | None,
    ) -> AsyncIterator[ChatOutput]:
        backend = self._backends[self.choose_model(model or self.model)]
        system_message = clean_text(
            system_message, what="field_system_message", max_chars=MAX_MESSAGE_CHARS, required=False
        )
        message = clean_text(message, what="field_message", max_chars=MAX_MESSAGE_CHARS)
        temperature = check_float(temperature, name="temperature", allowed=TEMPERATURE)
        max_tokens = check_int(max_tokens, name="max_tokens", allowed=MAX_TOKENS)

        try:
            messages = await self._fit(
                backend, system_message, normalize_history(history), message, max_tokens
            )
        except InferenceError as error:
            raise backend_error(error) from error
        stream = backend.stream_reply(
            messages, temperature=temperature, max_tokens=max_tokens, token=visitor_token(oauth_token)
        )
        reply = ""
        try:
            async for delta in stream:
                reply += delta
                yield reply
        except StreamInterruptedError as error:
            if not reply:
                raise backend_error(error) from error
            report(error)
            yield [  # the visitor keeps the text that arrived, with a note the model will not see
                {"role": "assistant", "content": reply},
                {
                    "role": "assistant",
                    "content": text(error.note_key, error=error.describe()),
                    "metadata": {"title": text("note_reply_cut_title")},
                },
            ]
        except InferenceError as error:
            raise backend_error(error) from error
        finally:
            await stream.aclose()
        if not reply:
            raise backend_error(MalformedReplyError(backend.where, phrase("detail_empty_stream")))

    @staticmethod
    async def _fit(
        backend: ChatBackend, system_message: str, history: list[Message], message: str, max_tokens: int
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
