"""The chatbot app driven through its page's own events, as the browser would run them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gradio_client import Client


class ChatbotPage:
    """The chatbot driven through its page's own events: each step the page runs on submit, retry
    or undo is an undocumented endpoint, called here in the page's order with the values the page
    would hold. Editing needs the edit's event data, which gradio_client cannot send (the browser
    test edits)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        components = client.config["components"]
        self.values: dict[int, Any] = {
            component["id"]: component["props"].get("value") for component in components
        }
        self.hidden = {component["id"] for component in components if component["skip_api"]}
        [self.chatbot] = (component["id"] for component in components if component["type"] == "chatbot")
        [self.message_box] = (
            component["id"] for component in components if component["props"].get("submit_btn") is True
        )

    @property
    def conversation(self) -> list[tuple[str, str]]:
        """Each message's role and text (its pictures aside)."""
        return [
            (message["role"], "".join(part["text"] for part in message["content"] if part["type"] == "text"))
            for message in self.values[self.chatbot]
        ]

    def send(self, text: str, files: Sequence[dict[str, Any]] = ()) -> None:
        """Send a message, with files as gradio_client's `handle_file` names them."""
        self.values[self.message_box] = {"text": text, "files": list(files)}
        self.fire(self.message_box, "submit")

    def fire(self, component: int, event: str) -> None:
        dependencies = self.client.config["dependencies"]
        steps = [
            step for step in dependencies if [component, event] in step["targets"] and step["backend_fn"]
        ]
        while steps:
            step = steps.pop(0)
            arguments = [self.values[block] for block in step["inputs"] if block not in self.hidden]
            result = self.client.predict(*arguments, fn_index=step["id"])
            shown = [block for block in step["outputs"] if block not in self.hidden]
            values = result if len(shown) > 1 else [result] if shown else []
            for block, value in zip(shown, values, strict=True):
                self.show(block, value)
            steps += [then for then in dependencies if then["trigger_after"] == step["id"]]

    def show(self, block: int, value: Any) -> None:
        if isinstance(value, dict) and value.get("__type__") == "update":
            if "value" not in value:
                return
            value = value["value"]
        self.values[block] = value
