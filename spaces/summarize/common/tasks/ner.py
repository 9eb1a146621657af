"""Named-entity recognition: whole entities over the original text, above a confidence threshold.

Annotations here are evaluated, not postponed: `gr.api` reads them to describe the JSON endpoint.
"""

from dataclasses import dataclass
from typing import Any, TypedDict

import gradio as gr

from common.backends import token_classification_backend
from common.backends.base import Token
from common.entities import Entity, highlight, merge_entities
from common.errors import InferenceError, backend_error
from common.i18n import text as message
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, show_note, visitor_token
from common.validation import Range, check_float, clean_text

# BERT-base reads 512 word pieces; 2,000 characters stays well inside that for English prose.
MAX_TEXT_CHARS = 2_000
# One colour per CoNLL-2003 type, readable on light and dark themes.
ENTITY_COLORS = {"PER": "#60a5fa", "ORG": "#f59e0b", "LOC": "#34d399", "MISC": "#c084fc"}
# The lowest score an entity needs to be shown. The default keeps every entity the model found, so
# callers of `/ner` that send no threshold get them all.
THRESHOLD = Range(minimum=0.0, maximum=1.0, default=0.0, step=0.01)
SCORE_DECIMALS = 3
TABLE_COLUMNS = (
    "ner_column_type",
    "ner_column_text",
    "ner_column_score",
    "ner_column_start",
    "ner_column_end",
)


class EntityRecord(TypedDict):
    """One whole entity as JSON: its type, its text, the model's confidence and its character span."""

    label: str
    text: str
    score: float
    start: int
    end: int


@dataclass(frozen=True)
class Analysis:
    """A text and every entity found in it, kept by the page so the threshold can change freely."""

    text: str
    entities: tuple[Entity, ...]

    def above(self, threshold: float) -> list[Entity]:
        return [entity for entity in self.entities if entity.score >= threshold]


def entity_legend() -> str:
    """A legend of the entity types in their colours, as HTML.

    Gradio's own legend and its inline labels exclude each other; the labels stay inline, so that the
    type never depends on telling colours apart, and this legend sits above.
    """
    chips = "".join(
        f'<span style="background:{color};color:#111;border-radius:4px;padding:1px 8px;margin-right:6px">'
        f"{label}</span>"
        for label, color in ENTITY_COLORS.items()
    )
    return f"<div>{chips}</div>"


class NerTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = token_classification_backend(settings, show_note)
        self.model = settings.ner.model

    async def analyse(self, text: str, token: Token = None) -> Analysis:
        """The cleaned text and all its entities; offsets refer to the cleaned text."""
        text = clean_text(text, what="field_text", max_chars=MAX_TEXT_CHARS)
        try:
            reply = await self.backend.classify_tokens(text, token)
        except InferenceError as error:
            raise backend_error(error) from error
        return Analysis(text, tuple(merge_entities(text, reply)))

    async def ner(
        self,
        text: str,
        threshold: float = THRESHOLD.default,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> dict[str, Any]:
        """Find the people, organisations, locations and other names in a text.

        Args:
            text: English text to analyse.
            threshold: the lowest confidence (0 to 1) an entity needs to be kept; 0 keeps them all.

        Returns:
            the text as spans, each labelled PER, ORG, LOC or MISC when it is an entity, else null
        """
        threshold = check_threshold(threshold)
        analysis = await self.analyse(text, visitor_token(oauth_token))
        return highlight(analysis.text, analysis.above(threshold))

    async def entities(
        self,
        text: str,
        threshold: float = THRESHOLD.default,
        oauth_token: gr.OAuthToken | None = None,
    ) -> list[EntityRecord]:
        """List the people, organisations, locations and other names in a text, as JSON.

        Args:
            text: English text to analyse.
            threshold: the lowest confidence (0 to 1) an entity needs to be kept; 0 keeps them all.

        Returns:
            the entities in reading order: label (PER, ORG, LOC, MISC), text, score (0-1), start, end
        """
        threshold = check_threshold(threshold)
        analysis = await self.analyse(text, visitor_token(oauth_token))
        return [record(entity) for entity in analysis.above(threshold)]

    async def find(
        self,
        text: str,
        threshold: float = THRESHOLD.default,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> tuple[Analysis, dict[str, Any] | None, dict[str, Any]]:
        """For the page: every entity (kept for later thresholds), and the highlight and table."""
        threshold = check_threshold(threshold)
        analysis = await self.analyse(text, visitor_token(oauth_token))
        return analysis, *show_entities(analysis, threshold)


def show_entities(
    analysis: Analysis | None, threshold: float
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The highlighted text and the table of the entities at or above `threshold`.

    Runs on every move of the threshold without calling the model again; before any text has been
    analysed it gives an empty table whose headings are in the visitor's language.
    """
    threshold = check_threshold(threshold)
    if analysis is None:
        return None, table([])
    kept = analysis.above(threshold)
    return highlight(analysis.text, kept), table(kept)


def table(entities: list[Entity]) -> dict[str, Any]:
    """The value of the entity table: translated headings, one row per entity in reading order."""
    return {
        "headers": [message(column) for column in TABLE_COLUMNS],
        "data": [
            [entity.label, entity.text, round(entity.score, SCORE_DECIMALS), entity.start, entity.end]
            for entity in entities
        ],
    }


def record(entity: Entity) -> EntityRecord:
    return EntityRecord(
        label=entity.label, text=entity.text, score=entity.score, start=entity.start, end=entity.end
    )


def check_threshold(value: object) -> float:
    return check_float(value, name="threshold", allowed=THRESHOLD)
