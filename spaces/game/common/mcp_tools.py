"""Tool results an agent can read: text as text, data as JSON, images as MCP image content.

Gradio's MCP server writes every value that is not a single file as its Python text (single quotes,
`None`), which no JSON parser reads, and hands an endpoint's several outputs over as one such text,
a gallery's images included. Here each output becomes its own content: a string as it is, an image
(alone or in a gallery) as image content followed by `{"url": ..., "caption": ...}`, anything else
as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from gradio import processing_utils
from gradio.mcp import GradioMCPServer
from gradio_client.utils import is_file_obj_with_meta
from mcp import types


def serve_tool_results_as_json() -> None:
    """Make Gradio's MCP server, in this process, return results as `tool_contents` describes them.
    Safe to call more than once."""
    if getattr(GradioMCPServer.postprocess_output_data, "serves_json", False):
        return
    to_contents = GradioMCPServer.postprocess_output_data
    pop_returned_state = GradioMCPServer.pop_returned_state

    def one_value_per_output(components: Sequence[Any], data: list[Any]) -> list[Any]:
        # Without a progress token, gradio_client hands several outputs over as one list of them.
        if len(components) > 1 and len(data) == 1 and isinstance(data[0], (list, tuple)):
            data = list(data[0])
        return pop_returned_state(components, data)

    def postprocess_output_data(self: GradioMCPServer, data: Any, root_url: str) -> list[Any]:
        def image_contents(file: dict[str, Any]) -> list[Any]:
            return [item for item in to_contents(self, [file], root_url) if item.type == "image"]

        return tool_contents(processing_utils.add_root_url(data, root_url, None), image_contents)

    postprocess_output_data.serves_json = True  # type: ignore[attr-defined]
    GradioMCPServer.pop_returned_state = staticmethod(one_value_per_output)  # type: ignore[method-assign]
    GradioMCPServer.postprocess_output_data = postprocess_output_data  # type: ignore[method-assign]


def tool_contents(
    outputs: list[Any], image_contents: Callable[[dict[str, Any]], list[Any]]
) -> list[types.TextContent | types.ImageContent]:
    """The contents of one tool result, one output after another; `image_contents` turns a file
    into image content."""
    contents: list[Any] = []
    for output in outputs:
        if is_file_obj_with_meta(output):
            contents += [*image_contents(output), _json_text({"url": output["url"]})]
        elif _is_gallery(output):
            for item in output:
                contents += [*image_contents(item["image"]), _json_text(_picture(item))]
        elif isinstance(output, str):
            contents.append(types.TextContent(type="text", text=output))
        else:
            contents.append(_json_text(output))
    return contents


def _is_gallery(output: Any) -> bool:
    return (
        isinstance(output, list)
        and bool(output)
        and all(isinstance(item, dict) and is_file_obj_with_meta(item.get("image")) for item in output)
    )


def _picture(item: dict[str, Any]) -> dict[str, Any]:
    return {"url": item["image"]["url"], "caption": item.get("caption")}


def _json_text(value: Any) -> types.TextContent:
    return types.TextContent(type="text", text=json.dumps(value, ensure_ascii=False))
