"""Describe-and-draw: caption an image, then paint a new image from that caption."""

from __future__ import annotations

from collections.abc import AsyncIterator

import gradio as gr
from PIL import Image

from common.images import Upload
from common.settings import Settings
from common.tasks.caption import CaptionTask
from common.tasks.imagegen import ImageGenTask
from common.ui import FIRST_LOAD_PROGRESS, visitor_token


class DescribeAndDrawTask:
    def __init__(self, settings: Settings) -> None:
        self.captioner = CaptionTask(settings)
        self.painter = ImageGenTask(settings)

    async def caption(self, image: Upload, oauth_token: gr.OAuthToken | None = None) -> str:
        """Describe an image in one sentence.

        Args:
            image: the image to describe.

        Returns:
            The caption.
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
            The generated image.
        """
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
            image: the image to start from.

        Returns:
            The caption, and the image painted from it.
        """
        caption = await self.caption(image, oauth_token)
        yield caption, None
        yield caption, await self.generate(caption, progress, oauth_token)
