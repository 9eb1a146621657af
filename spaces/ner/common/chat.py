"""Chat history in the shape every chat-completion server accepts, and within the model's reach.

Gradio's chatbot history carries more than the model needs: content may be a plain string or a
list of typed parts, and messages have `metadata` and `options` keys. Servers want plain
`{"role", "content"}` messages, their content a string, or OpenAI content parts where a user attached
pictures, so history is normalised once, here. A conversation can also outgrow the model's context
window; it is then cut to fit, oldest turns first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from common.errors import user_error
from common.i18n import catalog
from common.reasoning import split_thinking

# Longer histories are trimmed to the model's window anyway; these bound the work of trimming, which
# runs on the event loop (a million characters is about 0.1 s of counting, far over any window).
MAX_HISTORY_MESSAGES = 1000
MAX_HISTORY_CHARS = 1_000_000
# Qwen2.5-VL reads one token per 28x28 pixels, and its model card suggests at most 1,280 such tokens
# a picture: 1,003,520 pixels, about 1000x1000. Larger pictures are scaled down to it
# (`common.pictures`).
PICTURE_PIXELS = 1280 * 28 * 28
PICTURE_TOKENS = 1282
"""What one picture is counted as in the context window: Qwen2.5-VL's 1,280 tokens for a picture of
`PICTURE_PIXELS`, and the two that open and close it. Other vision models take fewer for the same
picture (Gemma 3 256, GPT-4o 765 at 1024x1024), so a conversation counted this way fits them too."""


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class ImagePart(TypedDict):
    """A picture as OpenAI-compatible servers take it: `{"url": "data:image/png;base64,..."}`."""

    type: Literal["image_url"]
    image_url: dict[str, str]


@dataclass(frozen=True)
class Attachment:
    """A picture a user attached, as the caller named it: a path, Gradio's file data or a `data:` URL,
    not yet read nor checked (`common.pictures.read_pictures` does both). It is no JSON, so it can
    never reach a server unread."""

    reference: Any


Part = TextPart | ImagePart | Attachment
Content = str | list[Part]
"""A message's content: its text, or a user's pictures then their text."""


class _ToolFields(TypedDict, total=False):
    """A reply's own turns within it: the model's call of tools, and each tool's result."""

    tool_calls: list[dict[str, Any]]
    tool_call_id: str


class Message(_ToolFields):
    role: str
    content: Content


def message_text(content: Any) -> str:
    """The text of one message's content: a string, a `{"type": "text"}` part, or a list of those.

    Parts are not nested in any chat format, so a list inside a list is not looked into: a caller's
    deeply nested value costs nothing.
    """
    if isinstance(content, list):
        return "".join(_part_text(part) for part in content)
    return _part_text(content)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Mapping) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
        return part["text"]
    return ""


def pictures_in(content: Content) -> int:
    """How many pictures a message's content holds, read or not."""
    if isinstance(content, str):
        return 0
    return sum(isinstance(part, Attachment) or part.get("type") == "image_url" for part in content)


def check_history(history: object) -> list[dict[str, Any]]:
    """A caller's history as a list of messages, or a clear error: it comes from anyone's script."""
    if history is None:
        return []
    if not isinstance(history, list) or not all(isinstance(item, Mapping) for item in history):
        raise user_error("input_not_history", kind=type(history).__name__)
    if len(history) > MAX_HISTORY_MESSAGES:
        raise user_error("input_history_too_long", length=len(history), limit=MAX_HISTORY_MESSAGES)
    characters = sum(len(message_text(item.get("content"))) for item in history)
    if characters > MAX_HISTORY_CHARS:
        raise user_error("input_history_too_many_chars", length=characters, limit=MAX_HISTORY_CHARS)
    return history


def normalize_history(history: Iterable[Mapping[str, Any]] | None) -> list[Message]:
    """Plain `{"role", "content"}` messages from Gradio history.

    Keeps a user's attached pictures in their turn, as `Attachment`s before the text, so a later
    question about the same picture still shows it: Gradio's file parts (`{"type": "file", "file":
    {"path": ...}}`), a file dict as the content, and OpenAI's `image_url` parts. Drops what a model
    must not see as dialogue: messages with neither text nor pictures (components, an assistant's
    files), messages the app showed beside the answers (those whose `metadata` has a title: the
    model's reasoning, a "reply cut off" note), reasoning in a `<think>` block at the start of an
    answer, and a message the page could not answer (the one before a "no reply" note): it is sent
    again as it stands when the visitor retries or types it anew.
    """
    no_reply_titles = {texts.get("note_no_reply_title") for texts in catalog().values()}
    messages: list[Message] = []
    last_kept: Mapping[str, Any] | None = None
    for item in history or ():
        role = item.get("role")
        if role not in ("user", "assistant"):
            continue
        metadata = item.get("metadata")
        if isinstance(metadata, Mapping) and metadata.get("title"):
            unanswered = last_kept is not None and last_kept.get("role") == "user"
            if unanswered and metadata["title"] in no_reply_titles:
                messages.pop()
                last_kept = None
            continue
        text = message_text(item.get("content"))
        if role == "assistant":  # reasoning a caller sent back in its think block stays out too
            text = split_thinking(text)[1]
        text = text.strip()
        pictures = attachments(item.get("content")) if role == "user" else []
        if pictures:
            messages.append({"role": role, "content": with_text(pictures, text)})
            last_kept = item
        elif text:
            messages.append({"role": role, "content": text})
            last_kept = item
    return messages


def attachments(content: Any) -> list[Part]:
    """The pictures of one message's content, in order, unread; like `message_text`, one level deep."""
    found: list[Part] = []
    for part in content if isinstance(content, list) else [content]:
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "file":
            found.append(Attachment(part.get("file")))
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            found.append(Attachment(image.get("url") if isinstance(image, Mapping) else image))
        elif "type" not in part and "path" in part:  # a file as the whole content
            found.append(Attachment(part))
    return found


def with_text(pictures: list[Part], text: str) -> list[Part]:
    """A user's content: the pictures first, as vision models are trained to read them, then the text."""
    return [*pictures, {"type": "text", "text": text}] if text else pictures


def build_messages(system_message: str, history: list[Message], user_message: Content) -> list[Message]:
    """`[system, ...history, user]`; the system message is left out when blank."""
    system: list[Message] = [{"role": "system", "content": system_message}] if system_message.strip() else []
    return [*system, *history, {"role": "user", "content": user_message}]


def fold_system_message(messages: list[Message]) -> list[Message]:
    """The system message as the opening of the first user message ("{system}\n\n{user}").

    For chat templates with no system role: Gemma's refuses a system message, others drop it without
    a word, and either way the model would never read its instructions.
    """
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = message_text(messages[0]["content"]), messages[1:]
    first_user = next((n for n, message in enumerate(rest) if message["role"] == "user"), None)
    if first_user is None:
        return [{"role": "user", "content": system}, *rest]
    content = rest[first_user]["content"]
    opened: Content = (
        f"{system}\n\n{content}" if isinstance(content, str) else [{"type": "text", "text": system}, *content]
    )
    folded: Message = {"role": "user", "content": opened}
    return [*rest[:first_user], folded, *rest[first_user + 1 :]]


TokenCounter = Callable[[list[Message]], Awaitable[int]]
"""Tokens a list of messages takes in the prompt: a chat backend's `count_tokens`."""


@dataclass(frozen=True)
class FittedConversation:
    """The messages to send, and how many of the oldest turns were left out to fit them."""

    messages: list[Message]
    turns_left_out: int


class ConversationTooLongError(ValueError):
    """The system message and the new message alone take more tokens than the budget allows."""

    def __init__(self, tokens: int, budget: int) -> None:
        self.tokens = tokens
        self.budget = budget
        super().__init__(
            f"the system message and the new message take {tokens} tokens; the budget is {budget}"
        )


def split_turns(history: list[Message]) -> list[list[Message]]:
    """The history as turns: each user message with the replies that follow it.

    Replies before the first user message (a greeting the app showed, say) form a turn of their own,
    so every message belongs to exactly one turn and a turn is never split.
    """
    turns: list[list[Message]] = []
    for message in history:
        if message["role"] == "user" or not turns:
            turns.append([])
        turns[-1].append(message)
    return turns


async def fit_to_window(
    system_message: str, history: list[Message], user_message: Content, *, budget: int, count: TokenCounter
) -> FittedConversation:
    """`build_messages(...)` within `budget` tokens, leaving out the oldest whole turns first.

    The system message and the new user message are always kept: when they alone exceed the budget,
    `ConversationTooLongError` says by how much. Adding turns never makes a prompt shorter, so the
    fewest turns to leave out are found by bisection: a handful of counts even for a long
    conversation, which matters when each count runs a chat template over all of it.
    """
    turns = split_turns(history)

    def keeping_from(first_turn: int) -> list[Message]:
        kept = [message for turn in turns[first_turn:] for message in turn]
        return build_messages(system_message, kept, user_message)

    if await count(keeping_from(0)) <= budget:
        return FittedConversation(keeping_from(0), 0)
    alone = await count(keeping_from(len(turns)))
    if alone > budget:
        raise ConversationTooLongError(alone, budget)
    fits, too_long = len(turns), 0
    while fits - too_long > 1:
        middle = (fits + too_long) // 2
        if await count(keeping_from(middle)) <= budget:
            fits = middle
        else:
            too_long = middle
    return FittedConversation(keeping_from(fits), fits)
