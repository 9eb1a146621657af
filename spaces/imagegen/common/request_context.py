"""The request being served, for code deep inside a call that writes for its sender: messages in
the sender's language (`common.i18n`), the operator's advice only to the operator (`common.errors`).

`common.calls` sets it around every event, at `Blocks.process_api`, the one door every call goes
through (the page, REST, gradio_client and MCP alike), so no function needs an extra parameter and
nothing reads Gradio's private context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_current: ContextVar[Any] = ContextVar("current_request", default=None)


def current_request() -> Any:
    """The request being served (a `gr.Request`, or Starlette's), or None outside any request."""
    return _current.get()


@contextmanager
def serving(request: Any) -> Iterator[None]:
    """Make `request` the current one until the block ends; anything without headers counts as none."""
    token = _current.set(request if hasattr(request, "headers") else None)
    try:
        yield
    finally:
        _current.reset(token)
