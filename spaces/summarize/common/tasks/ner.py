"""Named-entity recognition: whole entities over the original text."""

from __future__ import annotations

from typing import Any

import gradio as gr

from common.backends import token_classification_backend
from common.backends.base import Token
from common.entities import Entity, highlight, merge_entities
from common.errors import InferenceError, backend_error
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, visitor_token
from common.validation import clean_text

# BERT-base reads 512 word pieces; 2,000 characters stays well inside that for English prose.
MAX_TEXT_CHARS = 2_000
# One colour per CoNLL-2003 type, readable on light and dark themes.
ENTITY_COLORS = {"PER": "#60a5fa", "ORG": "#f59e0b", "LOC": "#34d399", "MISC": "#c084fc"}


class NerTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = token_classification_backend(settings)
        self.model = settings.ner.model

    async def analyse(self, text: str, token: Token = None) -> tuple[str, list[Entity]]:
        """The cleaned text and its entities; offsets refer to the cleaned text."""
        text = clean_text(text, what="field_text", max_chars=MAX_TEXT_CHARS)
        try:
            reply = await self.backend.classify_tokens(text, token)
        except InferenceError as error:
            raise backend_error(error) from None
        return text, merge_entities(text, reply)

    async def ner(
        self,
        text: str,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> dict[str, Any]:
        """Find the people, organisations, locations and other names in a text.

        Args:
            text: English text to analyse.

        Returns:
            The text with one labelled span per whole entity (PER, ORG, LOC or MISC).
        """
        return highlight(*await self.analyse(text, visitor_token(oauth_token)))
