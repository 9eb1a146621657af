"""The backend for each task, chosen once from the settings.

Backends are cached per configuration, so apps that share a process and a model (the game and
the caption app under serve-all, say) share one client or one loaded model. The local module is
imported only when a task runs locally: a Space on the remote backend never imports torch.
`notify` passes the visitor a remote backend's notes (a retry); the apps' tasks give `show_note`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from common.backends.base import (
    ChatBackend,
    ImageRequest,
    ImageToTextBackend,
    Notifier,
    SummarizationBackend,
    TextToImageBackend,
    TokenClassificationBackend,
)
from common.backends.remote import (
    RemoteBackend,
    RemoteCaptioner,
    RemoteChat,
    RemoteImageGenerator,
    RemoteSummarizer,
    RemoteTokenClassifier,
)
from common.errors import log_note
from common.settings import Settings, Task

__all__ = [
    "ChatBackend",
    "ImageRequest",
    "ImageToTextBackend",
    "Notifier",
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
def summarization_backend(settings: Settings, notify: Notifier = log_note) -> SummarizationBackend:
    return _backend(settings, "summarize", "LocalSummarizer", RemoteSummarizer, notify)


@cache
def token_classification_backend(
    settings: Settings, notify: Notifier = log_note
) -> TokenClassificationBackend:
    return _backend(settings, "ner", "LocalTokenClassifier", RemoteTokenClassifier, notify)


@cache
def image_to_text_backend(settings: Settings, notify: Notifier = log_note) -> ImageToTextBackend:
    return _backend(settings, "caption", "LocalCaptioner", RemoteCaptioner, notify)


@cache
def text_to_image_backend(settings: Settings, notify: Notifier = log_note) -> TextToImageBackend:
    return _backend(settings, "imagegen", "LocalImageGenerator", RemoteImageGenerator, notify)


@cache
def chat_backend(settings: Settings, notify: Notifier = log_note) -> ChatBackend:
    return _backend(settings, "chat", "LocalChat", RemoteChat, notify)


def _backend(
    settings: Settings, task: Task, local_class: str, remote_class: type[RemoteBackend], notify: Notifier
) -> Any:
    """The task's remote backend, or its local one named by class: only then is `local` (torch) imported."""
    if settings.backend_for(task) == "local":
        from common.backends import local

        return getattr(local, local_class)(settings.for_task(task))
    return remote_class(settings.for_task(task), settings.token, notify)
