"""Whole entities from a token-classification reply, over the original text.

Servers answer in one of two shapes: grouped (`entity_group`, as with `aggregation_strategy`) or raw
per word piece (`entity` with B-/I- prefixes and `##` continuations, as a bare pipeline returns).
`merge_entities` accepts both, so the apps work with any endpoint. Text is always cut from the
original string by offsets, never glued from pieces: "New York" keeps its space. Offsets are
checked against the `word` the server names, and a word whose offsets do not hold it is looked
for in the text instead.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

_TAG_PREFIXES = ("B-", "I-", "E-", "S-", "L-", "U-")
_CONTINUING_TAGS = ("I-", "E-", "L-")
# What may separate two words of one entity when the server leaves out the untagged pieces between.
_JOINERS = frozenset({"", "-", "'", "&", "."})

# Raw byte-level BPE and SentencePiece pieces write the space before a word as these.
_SPACE_MARKS = str.maketrans("Ġ▁", "  ")

logger = logging.getLogger("common")


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
    The server's offsets are trusted only where they hold its `word` (see `_place`).

    Example:
        >>> merge_entities("I live in New York", [
        ...     {"entity": "B-LOC", "score": 0.9, "word": "New", "start": 10, "end": 13},
        ...     {"entity": "I-LOC", "score": 0.7, "word": "York", "start": 14, "end": 18}])
        [Entity(label='LOC', start=10, end=18, text='New York', score=0.8)]
    """
    items = list(reply)
    pieces = _read_pieces(text, items)
    if len(pieces) < len(items):
        logger.warning(
            "Left out %d of %d entities of the NER reply that could not be found in the text",
            len(items) - len(pieces),
            len(items),
        )
    return [_entity(text, group) for group in _group(text, pieces)]


def highlight(text: str, entities: Iterable[Entity]) -> dict[str, Any]:
    """The value `gr.HighlightedText` renders: the text with one labelled span per entity."""
    return {
        "text": text,
        "entities": [{"entity": e.label, "start": e.start, "end": e.end} for e in entities],
    }


def _group(text: str, pieces: list[_Piece]) -> list[list[_Piece]]:
    """The pieces of each whole entity, by the tag rules `merge_entities` describes."""
    entities: list[list[_Piece]] = []
    open_entity: list[_Piece] | None = None
    for index, piece in enumerate(pieces):
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
    return entities


def _continues(text: str, previous: _Piece, piece: _Piece) -> bool:
    """An I- piece extends the open entity of its type across spacing or a joining character."""
    if not piece.tag.startswith(_CONTINUING_TAGS) or piece.label != previous.label:
        return False
    return text[previous.end : piece.start].strip() in _JOINERS


def _entity(text: str, group: list[_Piece]) -> Entity:
    start, end = group[0].start, group[-1].end
    score = sum(p.score for p in group) / len(group)
    return Entity(label=group[0].label, start=start, end=end, text=text[start:end], score=float(score))


def _read_pieces(text: str, reply: list[Mapping[str, Any]]) -> list[_Piece]:
    """The reply's items placed in `text`; items that cannot be placed are left out."""
    pieces: list[_Piece] = []
    for item in reply:
        word = str(item.get("word") or "")
        previous = pieces[-1] if pieces else None
        span = _place(text, item, word, after=previous.end if previous else 0)
        if span is None:
            continue
        start, end = span
        tag = str(item.get("entity_group") or item.get("entity") or "O")
        pieces.append(
            _Piece(
                tag=tag,
                label=_strip_prefix(tag),
                start=start,
                end=end,
                score=float(item.get("score", 0.0)),
                inside_word=word.startswith("##") or _glued(text, previous, start),
            )
        )
    return pieces


def _glued(text: str, previous: _Piece | None, start: int) -> bool:
    """A piece that starts where the previous one ended, letter against letter, continues its word."""
    return previous is not None and start == previous.end and text[start - 1 : start + 1].isalnum()


def _place(text: str, item: Mapping[str, Any], word: str, after: int) -> tuple[int, int] | None:
    """The item's span: its offsets where they hold its word, else where the word is in the text.

    Servers have sent offsets that cover other words ("Andrew" over "Andrew, I'm building"), so the
    word the server names wins over the numbers. An item without a word has only its offsets.
    """
    offsets = _offsets(item, len(text))
    wanted = _fold(word.removeprefix("##"))
    if not wanted:
        return offsets
    if offsets is not None and _fold(text[offsets[0] : offsets[1]]) == wanted:
        return offsets
    return _find(text, wanted, after=after, near=after if offsets is None else offsets[0])


def _offsets(item: Mapping[str, Any], length: int) -> tuple[int, int] | None:
    """The item's `start` and `end`, if they are a non-empty span inside a text of `length`."""
    start, end = item.get("start"), item.get("end")
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length:
        return start, end
    return None


def _fold(word: str) -> str:
    """A word as compared: lower case, as uncased models give it, and without spacing.

    Tokenizers add or drop spaces when they decode: "Jean - Pierre" for "Jean-Pierre".
    """
    return "".join(word.translate(_SPACE_MARKS).split()).lower()


def _find(text: str, wanted: str, after: int, near: int) -> tuple[int, int] | None:
    """The occurrence of a folded word nearest `near`, starting at or after `after`.

    Only occurrences after the previous entity count, so entities stay in reading order and never
    overlap. Any spacing may sit between the word's characters in the text.
    """
    pattern = re.compile(r"\s*".join(map(re.escape, wanted)), re.IGNORECASE)
    spans = [match.span() for match in pattern.finditer(text, after)]
    return min(spans, key=lambda span: abs(span[0] - near), default=None)


def _strip_prefix(tag: str) -> str:
    return tag[2:] if tag.startswith(_TAG_PREFIXES) else tag
