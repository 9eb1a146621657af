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
from common.reasoning import ReplyDelta
from common.tool_calls import ToolCall

StepCallback = Callable[[int, int], None]
"""Called as `(step, total_steps)` while an image is being generated."""

Token = str | None
"""A signed-in visitor's own Hugging Face token for this call; None uses the configured one.
In-process backends need no token and ignore it."""


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

    def generation_arguments(self) -> dict[str, Any]:
        """The keyword arguments that diffusers pipelines and `InferenceClient.text_to_image` share;
        each takes the prompt first and the seed its own way."""
        return {
            "negative_prompt": self.negative_prompt or None,
            "num_inference_steps": self.steps,
            "guidance_scale": self.guidance,
            "width": self.width,
            "height": self.height,
        }


class Notifier(Protocol):
    """Tells the visitor whose call is running a passing note (a retry, say): a catalog key and its fields.

    Backends are handed one instead of showing notes themselves, so that they know nothing of the UI:
    an app shows a toast (`common.ui.show_note`), anything else logs (`common.errors.log_note`).
    """

    def __call__(self, key: str, /, **fields: Any) -> None: ...


class Backend(Protocol):
    where: str
    """Where inference runs, for messages: an endpoint URL, a provider and model, or a local model."""


class SummarizationBackend(Backend, Protocol):
    async def max_input_tokens(self) -> int:
        """The longest input the model reads; longer text must be split."""
        ...

    async def count_tokens(self, text: str) -> int:
        """Tokens in `text`: exact with the model's tokenizer, else a conservative estimate."""
        ...

    async def summarize(self, text: str, *, min_length: int, max_length: int, token: Token = None) -> str: ...


class TokenClassificationBackend(Backend, Protocol):
    async def classify_tokens(self, text: str, token: Token = None) -> list[dict[str, Any]]:
        """Either reply shape that `common.entities.merge_entities` accepts."""
        ...


class ImageToTextBackend(Backend, Protocol):
    async def caption(self, image: EncodedImage, token: Token = None) -> str: ...


class TextToImageBackend(Backend, Protocol):
    async def generate(
        self, request: ImageRequest, on_step: StepCallback | None = None, token: Token = None
    ) -> Image.Image: ...


class ChatBackend(Backend, Protocol):
    calls_tools: bool
    """Whether the model may be offered tools: servers speak OpenAI's `tools`; in-process models here do
    not parse the calls their chat templates write."""

    async def context_window(self) -> int:
        """Tokens the model attends to: prompt and reply together."""
        ...

    async def count_tokens(self, messages: list[Message]) -> int:
        """Tokens the messages take in the prompt: exact with a chat template, else estimated."""
        ...

    def stream_reply(
        self,
        messages: list[Message],
        *,
        temperature: float,
        max_tokens: int,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | None = None,
        token: Token = None,
    ) -> AsyncGenerator[ReplyDelta | ToolCall, None]:
        """Yield the reply as it is written, the model's reasoning apart from its answer, then the
        tools it calls (where `calls_tools` and `tools` were offered); closing the generator stops
        generation."""
        ...
