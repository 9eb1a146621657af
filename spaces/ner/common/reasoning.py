"""A reply's reasoning apart from its answer, however the model's server sends it.

Models that reason before they answer stream their reasoning one of three ways: in a field of the
stream's delta of its own (`reasoning`, as huggingface_hub and the HF router name it;
`reasoning_content`, as vLLM and DeepSeek's API do), or inside the content, between `<think>` and
`</think>` at its start (Qwen3 and DeepSeek-R1 on TGI or llama.cpp, and in process). Backends turn
each of them into `ReplyDelta`s, so the task sees one shape: reasoning text, or answer text.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True)
class ReplyDelta:
    """A piece of a streamed reply: reasoning the model wrote on its way to the answer, or the answer."""

    text: str
    reasoning: bool = False


class ThinkTagSplitter:
    """Splits streamed content into reasoning and answer at a `<think>...</think>` block at its start.

    The tags may arrive split across chunks (`"<thi"`, `"nk>"`), so text that may still turn out to
    be part of one is held back until the next chunk says. `opened` is for a chat template that
    already wrote `<think>` at the end of the prompt: the model's text then starts inside the block.
    Content that does not start with `<think>` is all answer, passed on as it came.
    """

    def __init__(self, *, opened: bool = False) -> None:
        self._state = "reasoning" if opened else "start"
        self._held = ""

    def feed(self, text: str) -> list[ReplyDelta]:
        """The deltas that `text`, the next chunk of content, completes."""
        self._held += text
        deltas: list[ReplyDelta] = []
        while self._held:
            if self._state == "start":
                opening = self._held.lstrip()
                if opening.startswith(OPEN_TAG):
                    self._state, self._held = "reasoning", opening[len(OPEN_TAG) :]
                elif OPEN_TAG.startswith(opening):
                    break  # blank, or the tag so far
                else:
                    self._state = "answer"
            elif self._state == "reasoning":
                before, closed, after = self._held.partition(CLOSE_TAG)
                if not closed:
                    kept = _partial_tag_length(before, CLOSE_TAG)
                    deltas.append(ReplyDelta(before[: len(before) - kept], reasoning=True))
                    self._held = before[len(before) - kept :]
                    break
                deltas.append(ReplyDelta(before, reasoning=True))
                self._state, self._held = "after", after
            elif self._state == "after":
                # The blank lines between the block and the answer are the block's, not the answer's.
                self._held = self._held.lstrip()
                if self._held:
                    self._state = "answer"
            else:
                deltas.append(ReplyDelta(self._held))
                self._held = ""
        return [delta for delta in deltas if delta.text]

    def close(self) -> list[ReplyDelta]:
        """What was held back when the content ends: the start of a tag that never came whole."""
        held, self._held = self._held, ""
        if not held or self._state == "after":
            return []
        return [ReplyDelta(held, reasoning=self._state == "reasoning")]


def _partial_tag_length(text: str, tag: str) -> int:
    """How many characters at the end of `text` begin `tag`: they may be its first half."""
    for length in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:length]):
            return length
    return 0


def split_thinking(content: str, *, opened: bool = False) -> tuple[str, str]:
    """`(reasoning, answer)` of a whole content: the streamed split, all at once."""
    splitter = ThinkTagSplitter(opened=opened)
    deltas = [*splitter.feed(content), *splitter.close()]
    reasoning = "".join(delta.text for delta in deltas if delta.reasoning)
    return reasoning, "".join(delta.text for delta in deltas if not delta.reasoning)
