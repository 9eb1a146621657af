"""The `<think>` splitter: reasoning apart from the answer, however the content is cut into chunks."""

from __future__ import annotations

import pytest

from common.reasoning import ReplyDelta, ThinkTagSplitter, split_thinking

THOUGHT_AND_ANSWER = "<think>\nThe user greets me.\n</think>\n\nHello! How can I help?"


def stream(chunks: list[str], *, opened: bool = False) -> list[ReplyDelta]:
    splitter = ThinkTagSplitter(opened=opened)
    return [delta for chunk in chunks for delta in splitter.feed(chunk)] + splitter.close()


def joined(deltas: list[ReplyDelta]) -> tuple[str, str]:
    reasoning = "".join(delta.text for delta in deltas if delta.reasoning)
    return reasoning, "".join(delta.text for delta in deltas if not delta.reasoning)


def cut_every(text: str, size: int) -> list[str]:
    return [text[start : start + size] for start in range(0, len(text), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, len(THOUGHT_AND_ANSWER)])
def test_a_think_block_is_reasoning_wherever_the_chunks_cut_the_tags(size):
    assert joined(stream(cut_every(THOUGHT_AND_ANSWER, size))) == (
        "\nThe user greets me.\n",
        "Hello! How can I help?",
    )


def test_reasoning_streams_as_it_comes_and_only_a_possible_tag_is_held_back():
    splitter = ThinkTagSplitter()

    assert splitter.feed("<thi") == []
    assert splitter.feed("nk>Let me see") == [ReplyDelta("Let me see", reasoning=True)]
    assert splitter.feed(", then </th") == [ReplyDelta(", then ", reasoning=True)]
    assert splitter.feed("ink>\n\n") == []
    assert splitter.feed("Yes.") == [ReplyDelta("Yes.")]


def test_after_a_template_opened_the_block_the_model_starts_inside_it():
    assert joined(stream(cut_every("Hmm, a greeting.\n</think>\n\nHi!", 4), opened=True)) == (
        "Hmm, a greeting.\n",
        "Hi!",
    )


@pytest.mark.parametrize(
    "content",
    ["Hello there", "  Hello, <think> is a tag", "<b>bold</b> answer", "<", "   ", "I think </think> so"],
)
def test_content_without_a_leading_block_is_all_answer_exactly_as_it_came(content):
    for size in (1, 3, len(content)):
        assert joined(stream(cut_every(content, size))) == ("", content)


def test_an_empty_block_is_no_reasoning():
    assert joined(stream(["<think>\n\n</think>\n\n", "Hi"])) == ("\n\n", "Hi")


def test_a_block_that_never_closes_is_all_reasoning_even_a_tag_cut_at_the_end():
    assert joined(stream(["<think>Still thinking </thi"])) == ("Still thinking </thi", "")


def test_a_second_block_later_in_the_answer_is_answer():
    assert split_thinking("<think>a</think>b <think>c</think>") == ("a", "b <think>c</think>")
