"""Tools of MCP servers, for the chatbot's model to call.

The servers are the `MCP_SERVERS` list (HuggingChat's convention), or under serve-all the sibling
apps served by the same process. Each is reached with the official `mcp` SDK over streamable HTTP.
The tools a server lists are offered to the model as OpenAI function specs named
`<server>_<tool>` (two apps may each have a `caption` tool), and each call the model makes runs as
one `tools/call` on a session of its own: Gradio's MCP server keeps no state between calls, and a
session per call keeps one visitor's calls apart from another's.

A tool's failure, of any kind, is a result the model reads ("the tool failed: ..."), never the end
of the reply. Images a tool returns are shown to the visitor; the model reads that there was one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import sys
import time
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gradio as gr
import httpx
from gradio.processing_utils import save_bytes_to_cache
from gradio.utils import get_upload_folder
from mcp import ClientSession, McpError, types
from mcp.client.streamable_http import streamable_http_client

from common.backends.base import Notifier, Token
from common.backends.remote import ADDRESS
from common.errors import log_note
from common.images import MAX_IMAGE_BYTES, check_header
from common.pictures import MAX_DATA_URL_CHARS, SENT_AS_IS
from common.settings import ToolServer
from common.tool_calls import ToolCall

if sys.version_info >= (3, 11):
    from builtins import ExceptionGroup
else:  # anyio, which the mcp SDK runs on, installs the backport there
    from exceptiongroup import ExceptionGroup

logger = logging.getLogger("common")

# A server's tool list is kept this long, so a conversation does not list tools before every message;
# a server that could not list them is asked again after as long.
TOOLS_KEPT_FOR = 60.0
LIST_TIMEOUT = 10.0
# Painting an image on a CPU takes minutes; a tool gets as long as the slowest app's own limit and more.
CALL_TIMEOUT = 300.0
# What the model reads of one result: enough for a summary or a list of entities, not a book.
MAX_RESULT_CHARS = 8000
MAX_IMAGES_PER_RESULT = 4
# Hosts that take a Hugging Face token: a signed-in visitor's own goes there, and nowhere else.
HUGGING_FACE_HOSTS = ("huggingface.co", ".huggingface.co", ".hf.space")
# The errors a server, its transport or its reply can end a call with; the SDK raises the transport's
# from inside a task group, as an exception group.
CALL_FAILURES = (McpError, httpx.HTTPError, OSError, TimeoutError, ValueError, ExceptionGroup)


@dataclass(frozen=True)
class Tool:
    """A tool one server lists."""

    server: ToolServer
    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def model_name(self) -> str:
        """The tool's name for the model: the server's name, then the tool's."""
        return f"{self.server.name}_{self.name}"[:64]

    def spec(self) -> dict[str, Any]:
        """The tool as OpenAI's `tools` describe a function."""
        function = {"name": self.model_name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class ToolResult:
    """What a call returned: text for the model, images for the visitor, and whether it failed."""

    text: str
    images: tuple[Path, ...] = ()
    failed: bool = False


class ToolBox:
    """The tools of some MCP servers: listed (and kept a minute), then called one call at a time."""

    def __init__(self, servers: Sequence[ToolServer] = (), notify: Notifier = log_note) -> None:
        self._servers = tuple(servers)
        self._notify = notify
        self._listed: dict[ToolServer, tuple[float, list[Tool]]] = {}

    @property
    def servers(self) -> tuple[ToolServer, ...]:
        return self._servers

    def use(self, servers: Sequence[ToolServer]) -> None:
        """Call the tools of `servers` from now on: serve-all names its apps once it knows its address."""
        self._servers = tuple(servers)
        self._listed.clear()

    async def tools(self) -> list[Tool]:
        """Every server's tools, listed at once; a server that cannot be reached is left out, with a
        note for the visitor and the reason in the log."""
        listed = await asyncio.gather(*(self._tools_of(server) for server in self._servers))
        return [tool for tools in listed for tool in tools]

    async def _tools_of(self, server: ToolServer) -> list[Tool]:
        kept = self._listed.get(server)
        if kept is not None and time.monotonic() < kept[0]:
            return kept[1]
        try:
            async with session_with(server, token=None, timeout=LIST_TIMEOUT) as session:
                listed = await session.list_tools()
            tools = [
                Tool(server, tool.name, tool.description or "", tool.inputSchema or {"type": "object"})
                for tool in listed.tools
            ]
        except CALL_FAILURES as error:
            reason = why(error)
            logger.warning("MCP server %s (%s) did not list its tools: %s", server.name, server.url, reason)
            self._notify("note_tools_unavailable", server=server.name)
            tools = []
        self._listed[server] = (time.monotonic() + TOOLS_KEPT_FOR, tools)
        return tools

    async def call(self, tool: Tool, call: ToolCall, token: Token = None) -> ToolResult:
        """Run one call; a failure is a result that says why, for the model to read."""
        try:
            arguments = call.parsed_arguments()
        except ValueError as error:
            reason = f"The tool was not called: its arguments are not a JSON object ({error})."
            return ToolResult(reason, failed=True)
        try:
            async with session_with(tool.server, token, CALL_TIMEOUT) as session:
                result = await session.call_tool(
                    tool.name, arguments, read_timeout_seconds=timedelta(seconds=CALL_TIMEOUT)
                )
        except CALL_FAILURES as error:
            reason = why(error)
            logger.warning("MCP tool %s of %s failed: %s", tool.name, tool.server.name, reason)
            return ToolResult(f"The tool failed: {reason}", failed=True)
        return await asyncio.to_thread(read_result, result)


@asynccontextmanager
async def session_with(server: ToolServer, token: Token, timeout: float):  # type: ignore[no-untyped-def]
    """An initialised MCP session with `server`, closed when the block ends."""
    async with (
        httpx.AsyncClient(headers=headers_for(server, token), timeout=timeout) as http,
        streamable_http_client(server.url, http_client=http) as (read, write, _),
        ClientSession(read, write, read_timeout_seconds=timedelta(seconds=timeout)) as session,
    ):
        await session.initialize()
        yield session


def headers_for(server: ToolServer, token: Token) -> dict[str, str]:
    """The server's own headers; and a signed-in visitor's token, so the call spends it as their chat
    does, but only for a Hugging Face server that sets no `Authorization` of its own."""
    headers = dict(server.headers)
    host = urlsplit(server.url).hostname or ""
    on_hugging_face = host == HUGGING_FACE_HOSTS[0] or host.endswith(HUGGING_FACE_HOSTS[1:])
    if token and on_hugging_face and not any(name.lower() == "authorization" for name in headers):
        headers["Authorization"] = f"Bearer {token}"
    return headers


def read_result(result: types.CallToolResult) -> ToolResult:
    """The model's text and the visitor's images of a result (off the event loop: images are checked).

    Each image becomes a file in Gradio's cache, checked as an upload would be. The apps here follow
    an image with its `{"url", "caption"}` (`common.mcp_tools`): the model reads the caption, not an
    address on this machine.
    """
    texts: list[str] = []
    images: list[Path] = []
    after_image = False
    for content in result.content:
        if isinstance(content, types.ImageContent):
            saved = _saved_image(content) if len(images) < MAX_IMAGES_PER_RESULT else None
            if saved is not None:
                images.append(saved)
            texts.append("[an image, shown to the user]")
            after_image = True
        elif isinstance(content, types.TextContent):
            described = _image_description(content.text) if after_image else None
            if described is not None:
                texts[-1] = described
            else:
                texts.append(content.text)
            after_image = False
    text = "\n".join(texts).strip() or "(no output)"
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + f"\n[cut at {MAX_RESULT_CHARS} characters]"
    return ToolResult(text, tuple(images), failed=result.isError)


def _image_description(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict) or "url" not in value:
        return None
    caption = value.get("caption")
    return f"[an image, shown to the user: {caption}]" if caption else "[an image, shown to the user]"


def _saved_image(content: types.ImageContent) -> Path | None:
    """The image as a file in Gradio's cache, or None if it is not an image an upload could be: its
    size bounded before it is decoded, its header checked as an upload's is (`check_header`)."""
    if len(content.data) > MAX_DATA_URL_CHARS:
        return None
    try:
        data = base64.b64decode(content.data, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(data) > MAX_IMAGE_BYTES:
        return None
    try:
        header = check_header(data)
    except gr.Error:
        return None
    if header.format not in SENT_AS_IS:
        return None
    return Path(save_bytes_to_cache(data, f"tool.{header.format.lower()}", get_upload_folder()))


def why(error: BaseException) -> str:
    """A failure in a few words: the innermost error of a group, its type when it has no message.
    The visitor may read it in the step, so an address in it (a private host, say) is left out."""
    while isinstance(error, ExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    message = ADDRESS.sub("<URL>", " ".join(str(error).split()))[:300]
    return f"{type(error).__name__}: {message}" if message else type(error).__name__
