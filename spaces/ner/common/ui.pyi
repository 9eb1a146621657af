"""What every app does the same way around its UI: queue sizing and launching.

Queue limits are set when the demo is built, not at launch, so they hold however the demo is
served: `python app.py`, `gradio app.py`, Spaces, or mounted by serve-all.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import gradio as gr
from PIL import Image, UnidentifiedImageError

from common.settings import Settings, Task
from common.errors import user_error
from common.images import NOT_AN_IMAGE, TOO_LARGE
from common.validation import Range

# Remote calls wait on the network, not the CPU: many can be in flight at once. Gradio's default
# of one per event would make every visitor wait for the previous one.
REMOTE_CONCURRENCY = 64
# An in-process model uses the whole CPU or GPU; running two at once only makes both slower.
LOCAL_CONCURRENCY = 1
# Beyond this many waiting requests new ones are refused at once instead of queueing for minutes.
QUEUE_MAX_SIZE = 256
MAX_UPLOAD_SIZE = "25mb"

from gradio.events import Dependency

class ImageUpload(gr.Image):
    """`gr.Image` for uploads that turns an unreadable file into a clear message.

    Gradio opens the upload before the app's function runs; a file that is not an image would
    otherwise end in Gradio's generic "upstream app has raised an exception".
    """

    is_template = True  # rendered by the frontend's Image component

    def __init__(self, label: str, **kwargs: Any) -> None:
        # The original file, unconverted: it is sent on as uploaded.
        super().__init__(label=label, type="filepath", image_mode=None, **kwargs)

    def preprocess(self, payload: Any) -> Any:
        try:
            return super().preprocess(payload)
        except Image.DecompressionBombError:
            raise user_error(TOO_LARGE) from None
        except (UnidentifiedImageError, OSError, ValueError):
            raise user_error(NOT_AN_IMAGE) from None
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block

    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component

def slider(label: str, allowed: Range, info: str | None = None) -> gr.Slider:
    """A slider over exactly the range the server accepts for the same value."""
    return gr.Slider(
        label=label,
        minimum=allowed.minimum,
        maximum=allowed.maximum,
        value=allowed.default,
        step=allowed.step,
        info=info,
    )

def configure_queue(demo: gr.Blocks, settings: Settings, *tasks: Task) -> gr.Blocks:
    """Size the demo's queue for where its tasks run; returns the demo for chaining."""
    remote = all(settings.backend_for(task) == "remote" for task in tasks)
    return demo.queue(
        default_concurrency_limit=REMOTE_CONCURRENCY if remote else LOCAL_CONCURRENCY,
        max_size=QUEUE_MAX_SIZE,
    )

def launch(demo: gr.Blocks, argv: Sequence[str] | None = None) -> None:
    """Launch one app from the command line: `python app.py [--share]`.

    The address comes from GRADIO_SERVER_NAME and GRADIO_SERVER_PORT, as Gradio reads them.
    """
    parser = argparse.ArgumentParser(description=demo.title)
    parser.add_argument("--share", action="store_true", help="also serve the app on a public share link")
    args = parser.parse_args(argv)
    demo.launch(share=args.share or None, max_file_size=MAX_UPLOAD_SIZE)
