"""Components that hold only files Gradio already has.

Gradio copies every file a value names into its cache, from a path or by downloading a URL, and
checks the path only against wide folders (for an app's own outputs: the working directory and the
temp folder). A caller can name any value for any event, including values that the page itself never
sends (a saved conversation, say), so the components that take files here accept nothing but files
already in Gradio's upload folder: what a client uploaded and what the app made. A URL is never
fetched: send the file itself (an upload, gradio_client's `handle_file`, a `data:` URL over MCP).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import gradio as gr
from gradio.utils import get_upload_folder
from gradio_client.utils import is_http_url_like

from common.errors import user_error


def refuse_url(url_or_path: str | Path | None) -> None:
    if url_or_path is not None and is_http_url_like(str(url_or_path)):
        raise user_error("file_url_refused")


def check_held_file(url_or_path: str | Path | None) -> None:
    """Refuse a URL, and any path outside Gradio's upload folder."""
    refuse_url(url_or_path)
    if url_or_path is None:
        return
    try:
        path = Path(os.path.realpath(url_or_path))
    except ValueError as error:  # a NUL byte in the path
        raise user_error("file_not_held") from error
    if not path.is_relative_to(os.path.realpath(get_upload_folder())):
        raise user_error("file_not_held")


Component = TypeVar("Component", bound=gr.components.Component)


def held_files_only(component: Component) -> Component:
    """`component`, copying into its cache only files that pass `check_held_file` during a request.

    Gradio copies a request's files (what it receives and what the event returns) with the async
    method; the sync one runs while the app is built, for its own example files, which stay allowed.
    The methods are replaced on the instance: a subclass of a Gradio component makes Gradio write a
    type stub beside this module at import, which a read-only Space cannot do.
    """
    move = component.move_resource_to_block_cache
    async_move = component.async_move_resource_to_block_cache

    def move_checked(url_or_file_path: str | Path | None) -> str | None:
        refuse_url(url_or_file_path)
        return move(url_or_file_path)

    async def async_move_checked(url_or_file_path: str | Path | None) -> str | None:
        check_held_file(url_or_file_path)
        return await async_move(url_or_file_path)

    component.move_resource_to_block_cache = move_checked  # type: ignore[method-assign]
    component.async_move_resource_to_block_cache = async_move_checked  # type: ignore[method-assign]
    return component
