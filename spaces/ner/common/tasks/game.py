"""Describe-and-draw: caption an image, then paint a new image from that caption; or keep passing
the picture along, as in the game of telephone, and see how much of the first caption survives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import gradio as gr
from PIL import Image

from common.i18n import text
from common.images import Upload, read_upload, save_png
from common.settings import Settings
from common.similarity import text_similarity
from common.tasks.caption import CaptionTask
from common.tasks.imagegen import MAX_PROMPT_CHARS, ImageGenTask
from common.ui import FIRST_LOAD_PROGRESS, visitor_token
from common.validation import Range, check_int, clean_text

ROUNDS = Range(minimum=1, maximum=5, default=3)
# Verdicts by the least similarity (in %) that earns them, best first.
VERDICTS = ((80.0, "game_verdict_intact"), (50.0, "game_verdict_drifted"), (0.0, "game_verdict_lost"))

Timeline = list[tuple[Path, str | None]]
"""The pictures of a telephone game in order, each with its caption once it has one."""


class DescribeAndDrawTask:
    def __init__(self, settings: Settings) -> None:
        self.captioner = CaptionTask(settings)
        self.painter = ImageGenTask(settings)

    async def caption(self, image: Upload, oauth_token: gr.OAuthToken | None = None) -> str:
        """Describe an image in one sentence.

        Args:
            image: the image to describe (PNG, JPEG, WebP or GIF; over MCP, a data: URL).

        Returns:
            the caption
        """
        return await self.captioner.caption(image, oauth_token=oauth_token)

    async def generate(
        self,
        caption: str,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> Image.Image:
        """Paint a new image from a caption, at the image model's native size.

        Args:
            caption: the description to paint.

        Returns:
            the generated image
        """
        # Checked here, so that the message names the caption (the painter would call it a prompt).
        caption = clean_text(caption, what="field_caption", max_chars=MAX_PROMPT_CHARS)
        request = self.painter.request(caption, width=None, height=None)
        return await self.painter.render(request, progress, visitor_token(oauth_token))

    async def caption_and_generate(
        self,
        image: Upload,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[tuple[str, Image.Image | None]]:
        """Caption an image, then paint a new image from the caption, in one go.

        The caption is shown as soon as it is known, while the new image is painted.

        Args:
            image: the image to start from (PNG, JPEG, WebP or GIF; over MCP, a data: URL).

        Returns:
            the caption
            the image painted from it
        """
        caption = await self.caption(image, oauth_token)
        yield caption, None
        yield caption, await self.generate(caption, progress, oauth_token)

    async def telephone(
        self,
        image: Upload,
        rounds: int = int(ROUNDS.default),
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> AsyncIterator[tuple[Timeline, float | None, str]]:
        """Play telephone: caption the image, paint the caption, caption the painting, and so on.

        Each round paints the latest caption at the image model's native size, then captions the
        painting. The timeline grows as each step finishes; at the end the first caption is
        compared with the last.

        Args:
            image: the starting image (PNG, JPEG, WebP or GIF; over MCP, a data: URL).
            rounds: how many times a caption is painted and the painting captioned (1-5).

        Returns:
            the timeline: the starting image, then each painting, every one with its caption
            how alike the first and the last caption are, in % (0-100)
            a verdict in words
        """
        count = check_int(rounds, name="rounds", allowed=ROUNDS)
        start = (await read_upload(image)).path
        # Until the verdict, its place says which step is running.
        yield [(start, None)], None, text("game_step_first_caption")
        caption = first = await self.caption(start, oauth_token)
        timeline: Timeline = [(start, caption)]
        yield timeline, None, text("game_step_painting", round=1, rounds=count)
        for number in range(1, count + 1):
            painting = await asyncio.to_thread(save_png, await self.generate(caption, progress, oauth_token))
            step = text("game_step_captioning", round=number, rounds=count)
            yield [*timeline, (painting, None)], None, step
            caption = await self.caption(painting, oauth_token)
            timeline = [*timeline, (painting, caption)]
            step = text("game_step_painting", round=number + 1, rounds=count) if number < count else ""
            yield timeline, None, step
        similarity = text_similarity(first, caption)
        yield timeline, similarity, verdict(similarity)


def verdict(similarity: float) -> str:
    """A few words on how much of the message survived, in the visitor's language."""
    key = next(key for least, key in VERDICTS if similarity >= least)
    return text(key, similarity=similarity)
