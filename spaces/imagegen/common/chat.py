"""Chat history in the shape every chat-completion server accepts.

Gradio's chatbot history carries more than the model needs: content may be a plain string or a
list of typed parts, and messages have `metadata` and `options` keys. Servers want plain
`{"role", "content"}` strings, so history is normalised once, here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypedDict


class Message(TypedDict):
    role: str
    content: str


def message_text(content: Any) -> str:
    """The text of one message's content: a string, a `{"type": "text"}` part, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return str(content.get("text") or "") if content.get("type", "text") == "text" else ""
    if isinstance(content, Iterable):
        return "".join(message_text(part) for part in content)
    return ""


def normalize_history(history: Iterable[Mapping[str, Any]] | None) -> list[Message]:
    """Plain `{"role", "content"}` messages from Gradio history.

    Drops what a model must not see as dialogue: messages with no text (files, components) and
    notes the app showed itself (messages whose `metadata` has a title, such as a "reply cut off"
    note).
    """
    messages: list[Message] = []
    for item in history or ():
        role = item.get("role")
        if role not in ("user", "assistant"):
            continue
        if (item.get("metadata") or {}).get("title"):
            continue
        text = message_text(item.get("content")).strip()
        if text:
            messages.append({"role": role, "content": text})
    return messages


def build_messages(system_message: str, history: list[Message], user_message: str) -> list[Message]:
    """`[system, ...history, user]`; the system message is left out when blank."""
    system: list[Message] = [{"role": "system", "content": system_message}] if system_message.strip() else []
    return [*system, *history, {"role": "user", "content": user_message}]
