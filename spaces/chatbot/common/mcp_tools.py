"""What agents send to the apps' MCP tools and what they get back.

Arguments: Gradio's MCP server passes a tool's arguments to the app through a `gradio_client` of
its own, which uploads every file a value names, from the server's disk, before the app sees the
call. A caller could name any server file as `{"path": ..., "meta": {"_type": "gradio.FileData"}}`
anywhere in an argument (a chat history, say) and have it copied into the app's files, or name a
FIFO and hold a thread for good. Files reach a tool only as the strings its schema asks for (a
`data:` URL), so file data anywhere in the arguments is refused.

Results: Gradio writes every value that is not a single file as its Python text (single quotes,
`None`), which no JSON parser reads, and hands an endpoint's several outputs over as one such text,
a gallery's images included. Here each output becomes its own content: a string as it is, an image
(alone or in a gallery) as image content followed by `{"url": ..., "caption": ...}`, anything else
as JSON. Images are sent as the bytes of their file, never decoded on the event loop.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gradio import processing_utils
from gradio.mcp import GradioMCPServer
from gradio_client.utils import is_file_obj_with_meta
from mcp import types
from PIL import Image, UnidentifiedImageError

# Above this size an image goes by its URL only: base64 makes it a third larger, in one message.
MAX_INLINE_IMAGE_BYTES = 8 * 2**20


class FileArgumentError(ValueError):
    """An MCP argument named a server file; the MCP server shows the message to the agent."""


def adapt_mcp_tools() -> None:
    """Make Gradio's MCP server, in this process, refuse file data in arguments and return results
    as `tool_contents` describes them. Safe to call more than once."""
    if getattr(GradioMCPServer.postprocess_output_data, "serves_json", False):
        return
    prepare_arguments = GradioMCPServer._prepare_tool_call_args
    pop_returned_state = GradioMCPServer.pop_returned_state

    def prepare_checked_arguments(self: GradioMCPServer, name: str, arguments: dict[str, Any]) -> Any:
        refuse_file_data(arguments)
        return prepare_arguments(self, name, arguments)

    def one_value_per_output(components: Sequence[Any], data: list[Any]) -> list[Any]:
        # Without a progress token, gradio_client hands several outputs over as one list of them.
        if len(components) > 1 and len(data) == 1 and isinstance(data[0], (list, tuple)):
            data = list(data[0])
        return pop_returned_state(components, data)

    def postprocess_output_data(self: GradioMCPServer, data: Any, root_url: str) -> list[Any]:
        return tool_contents(processing_utils.add_root_url(data, root_url, None))

    postprocess_output_data.serves_json = True  # type: ignore[attr-defined]
    GradioMCPServer._prepare_tool_call_args = prepare_checked_arguments  # type: ignore[method-assign]
    GradioMCPServer.pop_returned_state = staticmethod(one_value_per_output)  # type: ignore[method-assign]
    GradioMCPServer.postprocess_output_data = postprocess_output_data  # type: ignore[method-assign]


def refuse_file_data(value: Any) -> None:
    """Refuse a value that holds Gradio file data at any depth (read without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if is_file_obj_with_meta(item):
            raise FileArgumentError(
                "Arguments cannot name files on the server. Send an image as a data: URL "
                "(data:image/png;base64,...) where a tool takes one."
            )
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def tool_contents(outputs: list[Any]) -> list[types.TextContent | types.ImageContent]:
    """The contents of one tool result, one output after another."""
    contents: list[Any] = []
    for output in outputs:
        if is_file_obj_with_meta(output):
            contents += [*image_content(output), _json_text({"url": output["url"]})]
        elif _is_gallery(output):
            for item in output:
                contents += [*image_content(item["image"]), _json_text(_picture(item))]
        elif isinstance(output, str):
            contents.append(types.TextContent(type="text", text=output))
        else:
            contents.append(_json_text(output))
    return contents


def image_content(file: dict[str, Any]) -> list[types.ImageContent]:
    """The file as MCP image content, if it is an image small enough to send inline.

    Only its header is read to name the format; the bytes go as they are.
    """
    path = Path(str(file.get("path")))
    try:
        if path.stat().st_size > MAX_INLINE_IMAGE_BYTES:
            return []
        with Image.open(path) as image:
            mime_type = Image.MIME.get(image.format or "")
        data = path.read_bytes()
    except (OSError, UnidentifiedImageError):
        return []
    if mime_type is None:
        return []
    return [types.ImageContent(type="image", data=base64.b64encode(data).decode(), mimeType=mime_type)]


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
