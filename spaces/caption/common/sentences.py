"""Where the sentences of English prose begin and end, so long text is cut where a reader pauses.

Rules rather than a library: the summarizer reads English, and a boundary missed costs nothing but
a longer sentence, whereas one found in the middle of a sentence cuts a thought in two. So a
sentence ends only where it plainly does: at `.`, `!`, `?` or `…` (closing quotes and brackets
may follow), before whitespace and a word that does not start in lower case, and not after an
abbreviation, an initial or a dotted acronym. A blank line always ends one. Decimals ("3.14") and
numbers ("1,063") never end a sentence, since no space follows their point.
"""

from __future__ import annotations

import re

Span = tuple[int, int]
"""`(start, end)` character offsets into the text, as for slicing."""

# Always followed by more of the same sentence.
_ABBREVIATIONS = frozenset(
    {
        *("mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "ft", "rev", "hon"),
        *("gen", "col", "maj", "capt", "lt", "sgt", "adm", "gov", "sen", "rep", "pres", "supt"),
        *("messrs", "mme", "mlle", "vs", "etc", "al", "approx", "cf", "ca", "dept", "univ", "est"),
        *("inc", "ltd", "co", "corp", "bros"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)
# Followed by the same sentence when a number comes next: "No. 5", "pp. 10-12", "Fig. 3".
_NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "vol", "vols", "pp", "fig", "figs", "ch", "sec", "art", "op"})
# "U.S", "e.g", "a.m", "Ph.D": letters between dots, the last dot (not in the word) closing them.
_DOTTED = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)+")
_CANDIDATE = re.compile(r"""[.!?…]+["'”’)\]]*\s+""")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_OPENING = "\"'“‘([{"
# Enough characters to see past opening quotes and brackets to the next word.
_LOOKAHEAD = 4
# Longer words are not abbreviations; looking no further back keeps splitting linear in the text.
_LONGEST_ABBREVIATION = 16


def sentence_spans(text: str) -> list[Span]:
    """The sentences of `text` in order, each without the whitespace around it.

    Example:
        >>> text = "Dr. Smith paid $3.50. He left at 5 p.m. on Jan. 5. Why?"
        >>> [text[start:end] for start, end in sentence_spans(text)]
        ['Dr. Smith paid $3.50.', 'He left at 5 p.m. on Jan. 5.', 'Why?']
    """
    spans: list[Span] = []
    for paragraph_start, paragraph_end in _paragraphs(text):
        start = paragraph_start
        for candidate in _CANDIDATE.finditer(text, paragraph_start, paragraph_end):
            if _ends_sentence(text, start, candidate):
                spans.append((start, candidate.start() + len(candidate.group().rstrip())))
                start = candidate.end()
        spans.append((start, paragraph_end))
    return spans


def _paragraphs(text: str) -> list[Span]:
    """Stretches of text between blank lines, trimmed of whitespace; blank ones left out."""
    bounds = [0, *(edge for line in _BLANK_LINE.finditer(text) for edge in line.span()), len(text)]
    paragraphs = [_trimmed(text, start, end) for start, end in zip(bounds[::2], bounds[1::2], strict=True)]
    return [(start, end) for start, end in paragraphs if start < end]


def _trimmed(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def _ends_sentence(text: str, sentence_start: int, candidate: re.Match[str]) -> bool:
    following = text[candidate.end() : candidate.end() + _LOOKAHEAD].lstrip(_OPENING)
    if not following or following[0].islower():
        return False
    punctuation = candidate.group().rstrip().rstrip("\"'”’)]")
    if punctuation != ".":  # "!", "?", "…" and "..." end a sentence whatever precedes them
        return True
    before = text[max(sentence_start, candidate.start() - _LONGEST_ABBREVIATION) : candidate.start()]
    word = (before.rsplit(maxsplit=1) or [""])[-1].lstrip(_OPENING).lower()
    if word in _ABBREVIATIONS or (word in _NUMBER_ABBREVIATIONS and following[0].isdigit()):
        return False
    is_initial = len(word) == 1 and word.isalpha()
    return not (is_initial or _DOTTED.fullmatch(word))
