"""Chat with an instruct model, streamed token by token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from common.backends import chat_backend
from common.chat import build_messages, normalize_history
from common.errors import (
    InferenceError,
    MalformedReplyError,
    StreamInterruptedError,
    backend_error,
    phrase,
    report,
)
from common.i18n import text
from common.settings import Settings
from common.ui import visitor_token
from common.validation import Range, check_float, check_int, clean_text

DEFAULT_SYSTEM_MESSAGE = (
    "A conversation between a user and an LLM-based AI assistant. "
    "The assistant gives helpful and honest answers."
)
TEMPERATURE = Range(minimum=0.1, maximum=1.0, default=0.7, step=0.1)
MAX_TOKENS = Range(minimum=1, maximum=4096, default=512)
MAX_MESSAGE_CHARS = 16_000

ChatOutput = str | list[dict[str, Any]]


class ChatTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = chat_backend(settings)
        self.model = settings.chat.model

    async def chat(
        self,
        message: str,
        history: list[dict[str, Any]],
        system_message: str = DEFAULT_SYSTEM_MESSAGE,
        temperature: float = TEMPERATURE.default,
        max_tokens: int = int(MAX_TOKENS.default),
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[ChatOutput]:
        """Answer a chat message, streaming the reply as it is generated.

        Args:
            message: the user's message.
            history: the conversation so far (kept by the chat UI, or by gradio_client's session).
            system_message: instructions that frame the assistant's behaviour.
            temperature: sampling temperature (0.1-1); higher is more varied.
            max_tokens: the longest reply to generate, in tokens.

        Returns:
            The reply so far, growing as tokens arrive.
        """
        messages = build_messages(
            clean_text(
                system_message, what="field_system_message", max_chars=MAX_MESSAGE_CHARS, required=False
            ),
            normalize_history(history),
            clean_text(message, what="field_message", max_chars=MAX_MESSAGE_CHARS),
        )
        temperature = check_float(temperature, name="temperature", allowed=TEMPERATURE)
        max_tokens = check_int(max_tokens, name="max_tokens", allowed=MAX_TOKENS)

        reply = ""
        stream = self.backend.stream_reply(
            messages, temperature=temperature, max_tokens=max_tokens, token=visitor_token(oauth_token)
        )
        try:
            async for delta in stream:
                reply += delta
                yield reply
        except StreamInterruptedError as error:
            if not reply:
                raise backend_error(error) from None
            report(error)
            yield [  # the visitor keeps the text that arrived, with a note the model will not see
                {"role": "assistant", "content": reply},
                {
                    "role": "assistant",
                    "content": text("note_reply_cut", error=error.describe()),
                    "metadata": {"title": text("note_reply_cut_title")},
                },
            ]
        except InferenceError as error:
            raise backend_error(error) from None
        finally:
            await stream.aclose()
        if not reply:
            raise backend_error(MalformedReplyError(self.backend.where, phrase("detail_empty_stream")))
