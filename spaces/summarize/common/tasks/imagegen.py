"""Text-to-image generation, reproducible by seed."""

from __future__ import annotations

import secrets

import gradio as gr
from PIL import Image

from common.backends import ImageRequest, text_to_image_backend
from common.backends.base import Token
from common.errors import InferenceError, backend_error, user_error
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, visitor_token
from common.validation import Range, check_float, check_int, clean_text

STEPS = Range(minimum=1, maximum=100, default=25)
GUIDANCE = Range(minimum=1, maximum=20, default=7, step=0.5)
SIZE = Range(minimum=64, maximum=1024, default=512, step=64)
# Seeds stay within a signed 32-bit integer: every provider and JavaScript number accepts them.
MAX_SEED = 2**31 - 1
SEED = Range(minimum=-1, maximum=MAX_SEED, default=-1)
MAX_PROMPT_CHARS = 1_000


class ImageGenTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = text_to_image_backend(settings)
        self.model = settings.imagegen.model

    def request(
        self,
        prompt: str,
        negative_prompt: str = "",
        steps: int = int(STEPS.default),
        guidance: float = GUIDANCE.default,
        width: int | None = int(SIZE.default),
        height: int | None = int(SIZE.default),
        seed: int = -1,
    ) -> ImageRequest:
        """A checked request; seed -1 picks a fresh random seed, size None the model's native size."""
        width = None if width is None else check_int(width, name="width", allowed=SIZE)
        height = None if height is None else check_int(height, name="height", allowed=SIZE)
        if (width or 0) % 8 or (height or 0) % 8:
            raise user_error("input_size_multiple", width=width, height=height)
        seed = check_int(seed, name="seed", allowed=SEED)
        return ImageRequest(
            prompt=clean_text(prompt, what="field_prompt", max_chars=MAX_PROMPT_CHARS),
            negative_prompt=clean_text(
                negative_prompt, what="field_negative_prompt", max_chars=MAX_PROMPT_CHARS, required=False
            ),
            steps=check_int(steps, name="steps", allowed=STEPS),
            guidance=check_float(guidance, name="guidance", allowed=GUIDANCE),
            width=width,
            height=height,
            seed=secrets.randbelow(MAX_SEED + 1) if seed == -1 else seed,
        )

    async def render(
        self, request: ImageRequest, progress: gr.Progress | None = None, token: Token = None
    ) -> Image.Image:
        """Generate the image for a checked request, reporting denoising steps to `progress`."""

        def on_step(step: int, total: int) -> None:
            if progress is not None:
                progress((step, total), desc="Denoising", unit="steps")

        try:
            return await self.backend.generate(request, on_step, token)
        except InferenceError as error:
            raise backend_error(error) from None

    async def generate(
        self,
        prompt: str,
        negative_prompt: str = "",
        steps: int = int(STEPS.default),
        guidance: float = GUIDANCE.default,
        width: int = int(SIZE.default),
        height: int = int(SIZE.default),
        seed: int = -1,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> tuple[Image.Image, int]:
        """Generate an image from a text prompt.

        Args:
            prompt: what the image should show.
            negative_prompt: what the image should not show.
            steps: denoising steps (1-100); more is slower and often finer.
            guidance: how closely to follow the prompt (1-20).
            width: image width in pixels (64-1024, a multiple of 8).
            height: image height in pixels (64-1024, a multiple of 8).
            seed: the random seed; -1 picks one. The same seed and settings give the same image.

        Returns:
            The image, and the seed used to make it.
        """
        request = self.request(prompt, negative_prompt, steps, guidance, width, height, seed)
        return await self.render(request, progress, visitor_token(oauth_token)), request.seed
