"""One interface per task; remote and local backends both implement them.

The task layer sees only these protocols, so an app never knows where its model runs.
Every backend raises `common.errors.InferenceError` subclasses, never its library's exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

from common.chat import Message
from common.images import EncodedImage

StepCallback = Callable[[int, int], None]
"""Called as `(step, total_steps)` while an image is being generated."""


@dataclass(frozen=True)
class ImageRequest:
    """Everything that determines a generated image; the same request reproduces the same image.

    A size of None means the model's native size (512 for Stable Diffusion 1.5, 1024 for SDXL).
    """

    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    width: int | None
    height: int | None
    seed: int


class Backend(Protocol):
    where: str
    """Where inference runs, for messages: an endpoint URL, a provider and model, or a local model."""


class SummarizationBackend(Backend, Protocol):
    async def summarize(self, text: str, *, min_length: int, max_length: int) -> str: ...


class TokenClassificationBackend(Backend, Protocol):
    async def classify_tokens(self, text: str) -> list[dict[str, Any]]:
        """Either reply shape that `common.entities.merge_entities` accepts."""
        ...


class ImageToTextBackend(Backend, Protocol):
    async def caption(self, image: EncodedImage) -> str: ...


class TextToImageBackend(Backend, Protocol):
    async def generate(self, request: ImageRequest, on_step: StepCallback | None = None) -> Image.Image: ...


class ChatBackend(Backend, Protocol):
    def stream_reply(
        self, messages: list[Message], *, temperature: float, max_tokens: int
    ) -> AsyncGenerator[str, None]:
        """Yield the reply as text deltas; closing the generator stops generation."""
        ...
