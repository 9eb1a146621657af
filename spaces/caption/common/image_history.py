"""A visitor's earlier generated images, each with the settings that reproduce it.

The history lives in a `gr.State`: on the server, one per open page, dropped when the page closes.
It holds paths to PNG files, not pixels, so a long session costs a few bytes per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from common.backends import ImageRequest
from common.i18n import text

# Enough to find a recent result again; older ones drop off so a session's state stays small.
HISTORY_LENGTH = 24


@dataclass(frozen=True)
class Result:
    """A generated image and the request that made it, at the size it came out."""

    image: Path
    request: ImageRequest

    def caption(self) -> str:
        """Everything that made the image, in the visitor's language."""
        request = self.request
        caption = text(
            "imagegen_history_caption",
            prompt=request.prompt,
            seed=request.seed,
            steps=request.steps,
            guidance=request.guidance,
            width=request.width,
            height=request.height,
        )
        if request.negative_prompt:
            caption += text("imagegen_history_negative", negative_prompt=request.negative_prompt)
        return caption


def remember(history: Sequence[Result] | None, results: Sequence[Result]) -> list[Result]:
    """The history with `results` added in front, newest first, trimmed to `HISTORY_LENGTH`."""
    return [*results, *(history or [])][:HISTORY_LENGTH]


def show_history(history: list[Result]) -> list[tuple[Path, str]]:
    """The history as gallery items, each captioned with its prompt, settings and seed."""
    return [(result.image, result.caption()) for result in history]


def pick(history: list[Result], selected: gr.SelectData) -> tuple[Result, gr.Button]:
    """The result a visitor clicked in the history gallery; its settings can now be reused."""
    return history[selected.index], gr.Button(interactive=True)


def reuse(result: Result) -> tuple[str, str, int, float, int | None, int | None, int, gr.Accordion]:
    """The picked result's prompt, negative prompt, steps, guidance, width, height and seed, in the
    order of the controls, with the advanced options opened to show them."""
    request = result.request
    return (
        request.prompt,
        request.negative_prompt,
        request.steps,
        request.guidance,
        request.width,
        request.height,
        request.seed,
        gr.Accordion(open=True),
    )
