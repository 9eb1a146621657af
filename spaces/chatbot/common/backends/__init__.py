"""The backend for each task, chosen once from the settings.

Backends are cached per configuration, so apps that share a process and a model (the game and
the caption app under serve-all, say) share one client or one loaded model. The local module is
imported only when a task runs locally: a Space on the remote backend never imports torch.
"""

from __future__ import annotations

from functools import cache

from common.backends.base import (
    ChatBackend,
    ImageRequest,
    ImageToTextBackend,
    SummarizationBackend,
    TextToImageBackend,
    TokenClassificationBackend,
)
from common.backends.remote import (
    RemoteCaptioner,
    RemoteChat,
    RemoteImageGenerator,
    RemoteSummarizer,
    RemoteTokenClassifier,
)
from common.settings import Settings

__all__ = [
    "ChatBackend",
    "ImageRequest",
    "ImageToTextBackend",
    "SummarizationBackend",
    "TextToImageBackend",
    "TokenClassificationBackend",
    "chat_backend",
    "image_to_text_backend",
    "summarization_backend",
    "text_to_image_backend",
    "token_classification_backend",
]


@cache
def summarization_backend(settings: Settings) -> SummarizationBackend:
    if settings.backend_for("summarize") == "local":
        from common.backends.local import LocalSummarizer

        return LocalSummarizer(settings.summarize)
    return RemoteSummarizer(settings.summarize, settings.token)


@cache
def token_classification_backend(settings: Settings) -> TokenClassificationBackend:
    if settings.backend_for("ner") == "local":
        from common.backends.local import LocalTokenClassifier

        return LocalTokenClassifier(settings.ner)
    return RemoteTokenClassifier(settings.ner, settings.token)


@cache
def image_to_text_backend(settings: Settings) -> ImageToTextBackend:
    if settings.backend_for("caption") == "local":
        from common.backends.local import LocalCaptioner

        return LocalCaptioner(settings.caption)
    return RemoteCaptioner(settings.caption, settings.token)


@cache
def text_to_image_backend(settings: Settings) -> TextToImageBackend:
    if settings.backend_for("imagegen") == "local":
        from common.backends.local import LocalImageGenerator

        return LocalImageGenerator(settings.imagegen)
    return RemoteImageGenerator(settings.imagegen, settings.token)


@cache
def chat_backend(settings: Settings) -> ChatBackend:
    if settings.backend_for("chat") == "local":
        from common.backends.local import LocalChat

        return LocalChat(settings.chat)
    return RemoteChat(settings.chat, settings.token)
