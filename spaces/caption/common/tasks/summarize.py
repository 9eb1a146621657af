"""Summarization of English text."""

from __future__ import annotations

import gradio as gr

from common.backends import summarization_backend
from common.errors import InferenceError, backend_error, user_error
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, visitor_token
from common.validation import Range, check_int, clean_text

MIN_LENGTH = Range(minimum=1, maximum=512, default=30)
MAX_LENGTH = Range(minimum=8, maximum=1024, default=130)
MAX_TEXT_CHARS = 20_000


class SummarizeTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = summarization_backend(settings)
        self.model = settings.summarize.model

    async def summarize(
        self,
        text: str,
        min_length: int = int(MIN_LENGTH.default),
        max_length: int = int(MAX_LENGTH.default),
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> str:
        """Summarize an English text.

        Args:
            text: the text to summarize, such as a news article.
            min_length: the shortest summary to produce, in tokens.
            max_length: the longest summary to produce, in tokens.

        Returns:
            The summary.
        """
        text = clean_text(text, what="field_text_to_summarize", max_chars=MAX_TEXT_CHARS)
        min_length = check_int(min_length, name="min_length", allowed=MIN_LENGTH)
        max_length = check_int(max_length, name="max_length", allowed=MAX_LENGTH)
        if min_length > max_length:
            raise user_error("input_min_over_max", minimum=min_length, maximum=max_length)
        try:
            return await self.backend.summarize(
                text, min_length=min_length, max_length=max_length, token=visitor_token(oauth_token)
            )
        except InferenceError as error:
            raise backend_error(error) from None
