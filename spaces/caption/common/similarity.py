"""How alike two short texts are, as a percentage, computed by rapidfuzz.

Captions of one picture say the same thing with their words in another order ("a red car on a
street", "on the street a red car"), so words are compared after sorting them, lowercased and
without punctuation: rapidfuzz's `token_sort_ratio`, a normalised insert/delete edit similarity.
"""

from __future__ import annotations

from rapidfuzz import fuzz, utils


def text_similarity(first: str, second: str) -> float:
    """From 0 (nothing in common) to 100 (the same words), rounded to one decimal.

    Example:
        >>> text_similarity("A red car on a street.", "on a street, a red car")
        100.0
    """
    return round(fuzz.token_sort_ratio(first, second, processor=utils.default_process), 1)
