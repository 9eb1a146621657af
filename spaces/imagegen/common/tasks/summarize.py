"""Summarization of English text, however long, up to a stated limit.

A model reads a bounded number of tokens at once (1,024 for BART). Longer text is split between
sentences into chunks that fit, each chunk is summarized, and the summaries, joined, are summarized
again, round after round, until they fit in one input: map, then reduce.

Annotations here are evaluated, not postponed: `gr.api` reads them to describe the JSON endpoint.
"""

from typing import TypedDict

import gradio as gr

from common.backends import summarization_backend
from common.backends.base import Token
from common.chunking import split_to_fit
from common.errors import InferenceError, backend_error, user_error
from common.i18n import text as message
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, show_note, visitor_token
from common.validation import Range, check_int, clean_text

MIN_LENGTH = Range(minimum=1, maximum=512, default=30)
MAX_LENGTH = Range(minimum=8, maximum=1024, default=130)
# The work a request may ask for: the characters bound the counting, the chunks the model calls
# (a chunk takes a few seconds on a hosted model). 100,000 characters of English are about 25,000
# tokens, some 25 to 35 chunks.
MAX_TEXT_CHARS = 100_000
MAX_CHUNKS = 40
# Room for the start and end tokens a seq2seq tokenizer puts around every input: the model's own
# count includes them, the estimate used without a tokenizer does not.
RESERVED_TOKENS = 2
# Partial summaries are joined as paragraphs, so the splitter keeps each whole in the next round.
PARTIALS_SEPARATOR = "\n\n"


class DocumentSummary(TypedDict):
    """A summary and how it was made."""

    summary: str
    chunks: int
    """Chunks the text was split into: 1 when the model read it whole."""
    rounds: int
    """Summarizing passes: 1 for a text read whole; 2 or more for the chunks, then their summaries."""


class SummarizeTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = summarization_backend(settings, show_note)
        self.model = settings.summarize.model

    async def summarize(
        self,
        text: str,
        min_length: int = int(MIN_LENGTH.default),
        max_length: int = int(MAX_LENGTH.default),
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> str:
        """Summarize an English text of up to 100,000 characters.

        Text longer than the model reads at once is split between sentences into chunks; each chunk
        is summarized, then the chunks' summaries together.

        Args:
            text: the text to summarize, such as a news article or a report.
            min_length: the shortest summary to produce, in tokens.
            max_length: the longest summary to produce, in tokens.

        Returns:
            the summary
        """
        result = await self._summarize(text, min_length, max_length, progress, visitor_token(oauth_token))
        return result["summary"]

    async def summarize_document(
        self,
        text: str,
        min_length: int = int(MIN_LENGTH.default),
        max_length: int = int(MAX_LENGTH.default),
        oauth_token: gr.OAuthToken | None = None,
    ) -> DocumentSummary:
        """Summarize an English text of up to 100,000 characters, and say how it was split.

        `chunks` is the number of parts the text was split into (1 when the model read it whole);
        `rounds` the number of summarizing passes (2 or more for a split text).

        Args:
            text: the text to summarize, such as a news article or a report.
            min_length: the shortest summary to produce, in tokens.
            max_length: the longest summary to produce, in tokens.

        Returns:
            an object with `summary`, `chunks` and `rounds`
        """
        return await self._summarize(text, min_length, max_length, None, visitor_token(oauth_token))

    async def summarize_with_report(
        self,
        text: str,
        min_length: int = int(MIN_LENGTH.default),
        max_length: int = int(MAX_LENGTH.default),
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> tuple[str, str]:
        """The summary, and a line for the page saying whether and how the text was split."""
        result = await self._summarize(text, min_length, max_length, progress, visitor_token(oauth_token))
        if result["chunks"] == 1:
            return result["summary"], message("summarize_report_whole")
        report = message("summarize_report_split", chunks=result["chunks"], rounds=result["rounds"])
        return result["summary"], report

    async def _summarize(
        self, text: str, min_length: int, max_length: int, progress: gr.Progress | None, token: Token
    ) -> DocumentSummary:
        text = clean_text(text, what="field_text_to_summarize", max_chars=MAX_TEXT_CHARS)
        min_length = check_int(min_length, name="min_length", allowed=MIN_LENGTH)
        max_length = check_int(max_length, name="max_length", allowed=MAX_LENGTH)
        if min_length > max_length:
            raise user_error("input_min_over_max", minimum=min_length, maximum=max_length)
        try:
            return await self._map_reduce(text, min_length, max_length, progress, token)
        except InferenceError as error:
            raise backend_error(error) from error

    async def _map_reduce(
        self, text: str, min_length: int, max_length: int, progress: gr.Progress | None, token: Token
    ) -> DocumentSummary:
        """Summarize the chunks, then their summaries, until one summary is left.

        Chunks go one after another: a hosted model rate-limits bursts, and a local one uses the
        whole machine for each. Every round must leave fewer parts than it was given, so the loop
        ends; when summaries are too long to shrink, the visitor is told to shorten them.
        """
        budget = await self.backend.max_input_tokens() - RESERVED_TOKENS
        parts = await split_to_fit(text, budget, self.backend.count_tokens)
        if len(parts) > MAX_CHUNKS:
            raise user_error("summarize_too_many_chunks", chunks=len(parts), limit=MAX_CHUNKS)
        chunks, rounds = len(parts), 0
        while True:
            rounds += 1
            summaries = []
            for index, part in enumerate(parts):
                if progress is not None:
                    progress((index, len(parts)), desc=_progress_text(rounds, index, len(parts)))
                summary = await self.backend.summarize(
                    part, min_length=min_length, max_length=max_length, token=token
                )
                summaries.append(summary)
            if len(summaries) == 1:
                return DocumentSummary(summary=summaries[0], chunks=chunks, rounds=rounds)
            combined = await split_to_fit(
                PARTIALS_SEPARATOR.join(summaries), budget, self.backend.count_tokens
            )
            if len(combined) >= len(parts):
                raise user_error("summarize_partials_too_long", max_length=max_length)
            parts = combined


def _progress_text(round_number: int, index: int, parts: int) -> str:
    if round_number == 1:
        return message("summarize_progress_chunk", chunk=index + 1, chunks=parts)
    return message("summarize_progress_combine", round=round_number, part=index + 1, parts=parts)
