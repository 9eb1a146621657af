"""Text-to-image generation, reproducible by seed, one image or a batch."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import gradio as gr
from PIL import Image

from common.backends import ImageRequest, text_to_image_backend
from common.backends.base import Token
from common.errors import InferenceError, backend_error, user_error
from common.i18n import text
from common.image_history import Result, remember
from common.images import save_png
from common.settings import Settings
from common.ui import FIRST_LOAD_PROGRESS, show_note, visitor_token
from common.validation import Range, check_float, check_int, clean_text

T = TypeVar("T")
Gallery = list[tuple[Path, str]]

STEPS = Range(minimum=1, maximum=100, default=25)
GUIDANCE = Range(minimum=1, maximum=20, default=7, step=0.5)
SIZE = Range(minimum=64, maximum=1024, default=512, step=64)
# Seeds stay within a signed 32-bit integer: every provider and JavaScript number accepts them.
MAX_SEED = 2**31 - 1
SEED = Range(minimum=-1, maximum=MAX_SEED, default=-1)
NUM_IMAGES = Range(minimum=1, maximum=4, default=1)
MAX_PROMPT_CHARS = 1_000


class ImageGenTask:
    def __init__(self, settings: Settings) -> None:
        self.backend = text_to_image_backend(settings, show_note)
        self.model = settings.imagegen.model
        # A remote endpoint paints a batch's images side by side; an in-process model paints one
        # image at a time whatever it is asked, so there they are asked for one after another.
        self.concurrent = settings.backend_for("imagegen") == "remote"

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

    def batch(self, request: ImageRequest, num_images: object) -> list[ImageRequest]:
        """`num_images` requests that differ only in their seeds: seed, seed + 1, ... (past the
        largest seed they start again from 0)."""
        count = check_int(num_images, name="num_images", allowed=NUM_IMAGES)
        return [replace(request, seed=(request.seed + offset) % (MAX_SEED + 1)) for offset in range(count)]

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
            raise backend_error(error) from error

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
            the image
            the seed used to make it
        """
        request = self.request(prompt, negative_prompt, steps, guidance, width, height, seed)
        return await self.render(request, progress, visitor_token(oauth_token)), request.seed

    async def generate_images(
        self,
        prompt: str,
        negative_prompt: str = "",
        steps: int = int(STEPS.default),
        guidance: float = GUIDANCE.default,
        width: int = int(SIZE.default),
        height: int = int(SIZE.default),
        seed: int = -1,
        num_images: int = int(NUM_IMAGES.default),
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> tuple[Gallery, list[int]]:
        """Generate several images from one text prompt, each with its own seed.

        Args:
            prompt: what the images should show.
            negative_prompt: what the images should not show.
            steps: denoising steps (1-100); more is slower and often finer.
            guidance: how closely to follow the prompt (1-20).
            width: image width in pixels (64-1024, a multiple of 8).
            height: image height in pixels (64-1024, a multiple of 8).
            seed: the seed of the first image; -1 picks one. The others use seed + 1, seed + 2, ...
            num_images: how many images to generate (1-4).

        Returns:
            the images as PNG files, each captioned with its seed
            the seeds, in the same order
        """
        request = self.request(prompt, negative_prompt, steps, guidance, width, height, seed)
        results = await self._paint(request, num_images, progress, visitor_token(oauth_token))
        return gallery(results), [result.request.seed for result in results]

    async def generate_into_history(
        self,
        prompt: str,
        negative_prompt: str = "",
        steps: int = int(STEPS.default),
        guidance: float = GUIDANCE.default,
        width: int = int(SIZE.default),
        height: int = int(SIZE.default),
        seed: int = -1,
        num_images: int = int(NUM_IMAGES.default),
        history: list[Result] | None = None,
        progress: gr.Progress = FIRST_LOAD_PROGRESS,
        oauth_token: gr.OAuthToken | None = None,
    ) -> tuple[Gallery, list[int], list[Result]]:
        """For the page: `generate_images`, with the session's history, which these results join."""
        request = self.request(prompt, negative_prompt, steps, guidance, width, height, seed)
        results = await self._paint(request, num_images, progress, visitor_token(oauth_token))
        return gallery(results), [result.request.seed for result in results], remember(history, results)

    async def _paint(
        self, first: ImageRequest, num_images: object, progress: gr.Progress | None, token: Token
    ) -> list[Result]:
        """A batch of images from `first` and the next seeds, each saved as a PNG with its request."""
        requests = self.batch(first, num_images)
        renders = (self.render(request, progress, token) for request in requests)
        images = await _all_at_once(renders) if self.concurrent else [await image for image in renders]
        return [
            Result(
                await asyncio.to_thread(save_png, image),
                replace(request, width=image.width, height=image.height),
            )
            for request, image in zip(requests, images, strict=True)
        ]


def gallery(results: list[Result]) -> Gallery:
    """The images for a gallery, captioned with their seeds in the visitor's language."""
    return [(result.image, text("imagegen_seed_caption", seed=result.request.seed)) for result in results]


async def _all_at_once(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await `calls` concurrently; when one fails, the others are cancelled rather than paid for."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
