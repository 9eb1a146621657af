"""Text longer than a model reads at once, cut into chunks it can read whole, between sentences.

Tokens are counted by the caller's counter: the model's own tokenizer where there is one, else a
stated estimate. Every chunk is counted whole before it is accepted, because a tokenizer's count of
two pieces joined is not the sum of their counts. Chunks are slices of the original text, so the
paragraphs and spacing inside each stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from common.sentences import Span, sentence_spans

TokenCounter = Callable[[str], Awaitable[int]]
Splitter = Callable[[str, Span], list[Span]]

_WORD = re.compile(r"\S+")


async def split_to_fit(text: str, budget: int, count_tokens: TokenCounter) -> list[str]:
    """`text` as consecutive chunks of at most `budget` tokens each, by `count_tokens`.

    Whole sentences are packed into each chunk, as many as fit, in order. A sentence is cut only
    when it alone is over the budget: between words, and a word longer than the budget between
    characters. Text that fits is returned as it is, in one chunk.

    Example:
        >>> import asyncio
        >>> async def words(text: str) -> int:
        ...     return len(text.split())
        >>> asyncio.run(split_to_fit("One two. Three four five. Six.", 4, words))
        ['One two.', 'Three four five. Six.']
    """
    if budget < 1:
        raise ValueError(f"a chunk must hold at least one token, not {budget}")
    if await count_tokens(text) <= budget:
        return [text]
    packer = _Packer(text, budget, count_tokens)
    chunks = await packer.pack(sentence_spans(text), finer=(_words, _characters))
    return [text[start:end] for start, end in chunks]


def _words(text: str, span: Span) -> list[Span]:
    start, end = span
    return [(start + word.start(), start + word.end()) for word in _WORD.finditer(text[start:end])]


def _characters(text: str, span: Span) -> list[Span]:
    return [(index, index + 1) for index in range(*span)]


@dataclass(frozen=True)
class _Packer:
    text: str
    budget: int
    count_tokens: TokenCounter

    async def pack(self, pieces: Sequence[Span], finer: Sequence[Splitter]) -> list[Span]:
        """Consecutive runs of `pieces` that fit; a piece over the budget alone is cut by `finer`."""
        chunks: list[Span] = []
        index = 0
        while index < len(pieces):
            taken = await self._longest_run(pieces, index)
            if taken:
                chunks.append((pieces[index][0], pieces[index + taken - 1][1]))
                index += taken
                continue
            if not finer:
                raise ValueError(f"a single character counts more than {self.budget} tokens")
            chunks.extend(await self.pack(finer[0](self.text, pieces[index]), finer[1:]))
            index += 1
        return chunks

    async def _longest_run(self, pieces: Sequence[Span], first: int) -> int:
        """How many pieces from `first` on fit in one chunk (0 when even the first does not).

        Counts grow with the text, so the longest run is found by doubling the run until it no
        longer fits, then halving the gap: a few counts per chunk instead of one per sentence.
        """

        async def fits(length: int) -> bool:
            start, end = pieces[first][0], pieces[first + length - 1][1]
            return await self.count_tokens(self.text[start:end]) <= self.budget

        if not await fits(1):
            return 0
        fitting, step, available = 1, 1, len(pieces) - first
        while True:  # double the run until it no longer fits or takes every piece left
            trial = min(fitting + step, available)
            if trial == fitting:
                return fitting
            if not await fits(trial):
                break
            fitting, step = trial, step * 2
        too_long = trial
        while too_long - fitting > 1:
            middle = (fitting + too_long) // 2
            if await fits(middle):
                fitting = middle
            else:
                too_long = middle
        return fitting
