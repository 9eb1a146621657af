"""The tools a model asks to call, put together from the fragments a stream sends them in.

OpenAI-compatible servers stream a tool call in pieces: the first delta of each call has its
`index`, `id` and function name, later ones add pieces of its JSON arguments under the same index.
Several calls may arrive in one reply, their fragments interleaved. `ToolCallParts` gathers them;
the whole calls come out once the stream has ended.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool the model asked for, with its arguments as the model wrote them (JSON)."""

    id: str
    name: str
    arguments: str

    def parsed_arguments(self) -> dict[str, Any]:
        """The arguments as an object; a model may write none, or JSON that is not an object."""
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError(f"arguments must be a JSON object, not {type(value).__name__}")
        return value

    def as_message_part(self) -> dict[str, Any]:
        """The call as the assistant message of the next request repeats it."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.id, "type": "function", "function": function}


@dataclass
class _Parts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallParts:
    """Streamed tool-call deltas, gathered by their index into whole calls."""

    def __init__(self) -> None:
        self._calls: dict[int, _Parts] = {}

    def add(self, delta: Mapping[str, Any]) -> None:
        """One streamed tool-call delta (huggingface_hub's `ChatCompletionStreamOutputDeltaToolCall`,
        a mapping; a server may leave out any of its fields)."""
        index = delta.get("index")
        parts = self._calls.setdefault(index if isinstance(index, int) else len(self._calls), _Parts())
        parts.id = parts.id or str(delta.get("id") or "")
        function = delta.get("function")
        if isinstance(function, Mapping):
            parts.name = parts.name or str(function.get("name") or "")
            arguments = function.get("arguments")
            if arguments:
                # TGI sends arguments as an object in one piece, OpenAI-compatible servers as text.
                parts.arguments.append(arguments if isinstance(arguments, str) else json.dumps(arguments))

    def calls(self) -> list[ToolCall]:
        """The calls, in the order the model wrote them; each gets an id if its server gave none."""
        return [
            ToolCall(id=parts.id or f"call_{index}", name=parts.name, arguments="".join(parts.arguments))
            for index, parts in sorted(self._calls.items())
        ]
