"""Image captioning."""

from __future__ import annotations

import gradio as gr

from common.backends import image_to_text_backend
from common.errors import InferenceError, backend_error, user_error
from common.images import Upload, read_upload
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, show_note, visitor_token


class CaptionTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = image_to_text_backend(settings, show_note)
        self.model = settings.caption.model

    async def caption(
        self,
        image: Upload,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> str:
        """Describe an image in one sentence.

        Args:
            image: the image to describe (PNG, JPEG, WebP or GIF; over MCP, a data: URL).

        Returns:
            a caption such as "a dog running on the beach"
        """
        upload = await read_upload(image)
        try:
            caption = await self.backend.caption(upload, visitor_token(oauth_token))
        except InferenceError as error:
            raise backend_error(error) from error
        if not caption:
            raise user_error("caption_empty")
        return caption
