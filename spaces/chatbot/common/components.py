"""Components that hold only files Gradio already has.

Gradio copies every file a value names into its cache, from a path or by downloading a URL, and
checks the path only against wide folders (for an app's own outputs: the working directory and the
temp folder). A caller can name any value for any event, including values that the page itself never
sends (a saved conversation, say, or a URL dressed as a file in a text box), so no component here
takes anything but files already in Gradio's upload folder: what a client uploaded and what the app
made. A URL is never fetched: send the file itself (an upload, gradio_client's `handle_file`, a `data:`
URL over MCP).
"""

from __future__ import annotations

import os
from pathlib import Path

from gradio.blocks import Block
from gradio.utils import get_upload_folder
from gradio_client.utils import is_http_url_like

from common.errors import user_error


def refuse_url(url_or_path: str | Path | None) -> None:
    if url_or_path is not None and is_http_url_like(str(url_or_path)):
        raise user_error("file_url_refused")


def held_path(location: str | Path) -> Path | None:
    """The real path of `location` if it is inside Gradio's upload folder, else None."""
    try:
        path = Path(os.path.realpath(location))
    except ValueError:  # a NUL byte in the path
        return None
    return path if path.is_relative_to(os.path.realpath(get_upload_folder())) else None


def check_held_file(url_or_path: str | Path | None) -> None:
    """Refuse a URL, and any path outside Gradio's upload folder."""
    refuse_url(url_or_path)
    if url_or_path is not None and held_path(url_or_path) is None:
        raise user_error("file_not_held")


def hold_only_received_files() -> None:
    """Make every Gradio component of this process copy in only files that pass `check_held_file`.

    Gradio copies the files a request names (in what it receives, in any component's value, and in
    what an event returns) with the async method; the sync one runs while an app is built, for its
    own example files, which stay allowed. It is set on Gradio's base class, not per component: an
    event may return a new component, which Gradio then keeps for the session in place of the one the
    app built, and a Gradio component subclass would make Gradio write a type stub beside this module
    at import, which a read-only Space cannot do. Safe to call more than once.
    """
    if getattr(Block.async_move_resource_to_block_cache, "holds_only_received_files", False):
        return
    move = Block.move_resource_to_block_cache
    async_move = Block.async_move_resource_to_block_cache

    def move_checked(self: Block, url_or_file_path: str | Path | None) -> str | None:
        refuse_url(url_or_file_path)
        return move(self, url_or_file_path)

    async def async_move_checked(self: Block, url_or_file_path: str | Path | None) -> str | None:
        check_held_file(url_or_file_path)
        return await async_move(self, url_or_file_path)

    async_move_checked.holds_only_received_files = True  # type: ignore[attr-defined]
    Block.move_resource_to_block_cache = move_checked  # type: ignore[method-assign]
    Block.async_move_resource_to_block_cache = async_move_checked  # type: ignore[method-assign]
