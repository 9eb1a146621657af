"""Whole entities from a token-classification reply, over the original text.

Servers answer in one of two shapes: grouped (`entity_group`, as with `aggregation_strategy`) or raw
per word piece (`entity` with B-/I- prefixes and `##` continuations, as a bare pipeline returns).
`merge_entities` accepts both, so the apps work with any endpoint. Text is always cut from the
original string by offsets, never glued from pieces: "New York" keeps its space.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

_TAG_PREFIXES = ("B-", "I-", "E-", "S-", "L-", "U-")
_CONTINUING_TAGS = ("I-", "E-", "L-")
# What may separate two words of one entity when the server leaves out the untagged pieces between.
_JOINERS = frozenset({"", "-", "'", "&", "."})


@dataclass(frozen=True)
class Entity:
    """One whole entity: its label without prefix, character span, text and mean confidence."""

    label: str
    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Piece:
    tag: str
    label: str
    start: int
    end: int
    score: float
    inside_word: bool


def merge_entities(text: str, reply: Iterable[Mapping[str, Any]]) -> list[Entity]:
    """Turn either reply shape into whole-entity spans over `text`, in reading order.

    Rules for raw pieces: a B- tag starts a new entity; an I- tag continues the previous entity of
    the same type when nothing but spacing separates them; a `##` piece (or any piece glued to the
    previous one) belongs to the word it continues, whatever its tag. Scores are the mean of pieces.

    Example:
        >>> merge_entities("I live in New York", [
        ...     {"entity": "B-LOC", "score": 0.9, "word": "New", "start": 10, "end": 13},
        ...     {"entity": "I-LOC", "score": 0.7, "word": "York", "start": 14, "end": 18}])
        [Entity(label='LOC', start=10, end=18, text='New York', score=0.8)]
    """
    entities: list[list[_Piece]] = []
    open_entity: list[_Piece] | None = None
    for index, piece in enumerate(_read_pieces(text, reply)):
        if piece.inside_word and index > 0:
            if open_entity is not None:  # a word belongs wholly to the entity it started in
                open_entity.append(piece)
        elif piece.label == "O":
            open_entity = None
        elif open_entity is not None and _continues(text, open_entity[-1], piece):
            open_entity.append(piece)
        else:
            open_entity = [piece]
            entities.append(open_entity)
    return [_entity(text, pieces) for pieces in entities]


def highlight(text: str, entities: Iterable[Entity]) -> dict[str, Any]:
    """The value `gr.HighlightedText` renders: the text with one labelled span per entity."""
    return {
        "text": text,
        "entities": [{"entity": e.label, "start": e.start, "end": e.end} for e in entities],
    }


def _continues(text: str, previous: _Piece, piece: _Piece) -> bool:
    """An I- piece extends the open entity of its type across spacing or a joining character."""
    if not piece.tag.startswith(_CONTINUING_TAGS) or piece.label != previous.label:
        return False
    return text[previous.end : piece.start].strip() in _JOINERS


def _entity(text: str, group: list[_Piece]) -> Entity:
    start, end = group[0].start, group[-1].end
    score = sum(p.score for p in group) / len(group)
    return Entity(label=group[0].label, start=start, end=end, text=text[start:end], score=float(score))


def _read_pieces(text: str, reply: Iterable[Mapping[str, Any]]) -> Iterable[_Piece]:
    cursor = 0
    previous_end: int | None = None
    for item in reply:
        tag = str(item.get("entity_group") or item.get("entity") or "O")
        word = str(item.get("word") or "")
        start, end = item.get("start"), item.get("end")
        if not isinstance(start, int) or not isinstance(end, int):
            located = _locate(text, word.removeprefix("##"), cursor)
            if located is None:
                continue
            start, end = located
        if not 0 <= start < end <= len(text):
            continue
        glued = start == previous_end and text[start - 1].isalnum() and text[start].isalnum()
        yield _Piece(
            tag=tag,
            label=_strip_prefix(tag),
            start=start,
            end=end,
            score=float(item.get("score", 0.0)),
            inside_word=word.startswith("##") or glued,
        )
        cursor = previous_end = end


def _strip_prefix(tag: str) -> str:
    return tag[2:] if tag.startswith(_TAG_PREFIXES) else tag


def _locate(text: str, word: str, cursor: int) -> tuple[int, int] | None:
    """Find a piece that came without offsets; case-insensitive because uncased models lowercase."""
    if not word:
        return None
    index = text.casefold().find(word.casefold(), cursor)
    return None if index < 0 else (index, index + len(word))
