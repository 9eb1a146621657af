"""Pictures attached to chat messages, sent to vision models as OpenAI `image_url` content parts.

Pictures come from the page's message box (paths of files Gradio received), from `/chat`'s
`message` as `{"text", "files"}` (Gradio's file data, which gradio_client's `handle_file` uploads, or
a `data:` URL from an MCP agent or a curl user), and from the history a caller sends back
(`common.chat.normalize_history` keeps them as `Attachment`s). `/chat` is a `gr.api` endpoint, so
nothing checks its values on the way: any of these may name any path on the server, or a URL. Only
files inside Gradio's upload folder are opened, with every check of an upload (`common.images`);
a `data:` URL is decoded within the upload size limit, then checked as an upload is; a URL is never
fetched. Reading runs off the event loop.

Each picture reaches the model as a `data:` URL of at most `PICTURE_PIXELS`: a larger one is scaled
down, so a phone photo costs neither a 20 MB request nor tens of thousands of tokens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from gradio_client.utils import is_http_url_like
from PIL import Image

from common.calls import shown
from common.chat import PICTURE_PIXELS, Attachment, Content, ImagePart, Message, Part, pictures_in, with_text
from common.chat_models import PICTURE_MODELS, sees_pictures
from common.components import held_path
from common.errors import InferenceError, InputRejectedError, ModelRejectedError, user_error
from common.images import MAX_IMAGE_BYTES, check_header, read_image_file, too_heavy
from common.settings import Settings
from common.ui import show_note
from common.validation import clean_text

MAX_PICTURES_PER_MESSAGE = 4
# Every message sends the conversation's pictures again; eight bound that work and the request.
MAX_PICTURES_PER_CONVERSATION = 8
# Formats every OpenAI-compatible server reads; others are sent as PNG.
SENT_AS_IS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
# A data: URL's base64 text of an image at the upload limit, and a little for line breaks.
MAX_DATA_URL_CHARS = math.ceil(MAX_IMAGE_BYTES / 3) * 4 + 4096


class MultimodalMessage(TypedDict):
    """Gradio's multimodal message, as `/chat` takes it besides plain text: the text, and the pictures
    attached to it (Gradio's file data, as gradio_client's `handle_file` uploads a file, or `data:`
    URLs)."""

    text: str
    files: NotRequired[list[dict[str, Any] | str]]


def user_content(message: object, *, max_chars: int) -> Content:
    """The new message as the model gets it: its text, or its pictures (unread) then its text.

    Takes the text alone, or Gradio's multimodal value `{"text": ..., "files": [...]}`, where a
    message with pictures may have no text. Each file is checked for what it is before anything is
    read: a URL or a value that names no file is refused at once.
    """
    if not isinstance(message, Mapping):
        return clean_text(message, what="field_message", max_chars=max_chars)
    files = message.get("files") or []
    if not isinstance(files, list):
        raise user_error("chatbot_files_not_a_list", value=shown(files))
    if len(files) > MAX_PICTURES_PER_MESSAGE:
        raise user_error("chatbot_too_many_pictures", count=len(files), limit=MAX_PICTURES_PER_MESSAGE)
    words = clean_text(message.get("text"), what="field_message", max_chars=max_chars, required=not files)
    if not files:
        return words
    for file in files:
        _check_reference(file)
    return with_text([Attachment(file) for file in files], words)


@dataclass(frozen=True)
class Sight:
    """Whether a chat model sees pictures, and what a visitor reads when it does not."""

    model: str
    sees: bool | None
    """None where only the server knows (an endpoint URL): pictures are sent, and its refusal shown."""
    in_process: bool
    seeing_models: tuple[str, ...]
    """The offered models that do see pictures, to name in the refusal."""

    @classmethod
    def of(cls, settings: Settings, offered: Sequence[str]) -> Sight:
        return cls(
            settings.chat.model,
            sees_pictures(settings),
            settings.backend_for("chat") == "local",
            tuple(model for model in offered if model in PICTURE_MODELS),
        )

    def admit(self, content: Content, history: list[Message]) -> list[Message]:
        """The history to send with `content`, or a clear refusal before any model call.

        A model that reads text only is never sent a picture: one in the new message is refused, and
        those of earlier turns are left out, with a note, so that a visitor who switched models can
        carry on.
        """
        earlier = sum(pictures_in(message["content"]) for message in history)
        attached = pictures_in(content)
        if self.sees is not False:
            if attached + earlier > MAX_PICTURES_PER_CONVERSATION:
                raise user_error(
                    "chatbot_too_many_pictures_in_conversation",
                    count=attached + earlier,
                    limit=MAX_PICTURES_PER_CONVERSATION,
                )
            return history
        if attached:
            raise self._refusal()
        if not earlier:
            return history
        show_note("chatbot_pictures_left_out", model=self.model, count=earlier)
        return [message for message in map(_without_pictures, history) if message["content"]]

    def _refusal(self) -> Exception:
        if self.in_process:
            return user_error("chatbot_local_reads_text_only")
        if self.seeing_models:
            return user_error(
                "chatbot_reads_text_only", model=self.model, models=", ".join(self.seeing_models)
            )
        return user_error("chatbot_reads_text_only_alone", model=self.model)


async def read_pictures(messages: list[Message]) -> list[Message]:
    """The messages with every attached picture read, checked and made an `image_url` part; on a
    worker thread, as a picture may take a decode and a scaling."""
    if not any(pictures_in(message["content"]) for message in messages):
        return messages
    return await asyncio.to_thread(lambda: [_read(message) for message in messages])


def refused_pictures(error: InferenceError, messages: list[Message]) -> InferenceError:
    """A server's refusal of a request with pictures, as the refusal of the pictures, in its own words:
    an endpoint URL serves a model the app cannot ask whether it sees them (vLLM answers a text-only
    model's pictures with HTTP 400, "... is not a multimodal model")."""
    with_pictures = any(pictures_in(message["content"]) for message in messages)
    if with_pictures and type(error) in (InputRejectedError, ModelRejectedError):
        return PicturesRefusedError(error.where, error.detail)
    return error


class PicturesRefusedError(InputRejectedError):
    key = "error_pictures_refused"


def _read(message: Message) -> Message:
    content = message["content"]
    if isinstance(content, str):
        return message
    parts: list[Part] = [
        picture_part(part.reference) if isinstance(part, Attachment) else part for part in content
    ]
    return {"role": message["role"], "content": parts}


def picture_part(reference: object) -> ImagePart:
    """One attached picture, read and checked, as the content part a vision model reads."""
    _check_reference(reference)
    if isinstance(reference, str) and reference[:5].lower() == "data:":
        data = _decoded(reference)
    else:
        location = reference.get("path") if isinstance(reference, Mapping) else reference
        path = held_path(location) if isinstance(location, (str, Path)) else None
        if path is None:
            raise user_error("image_not_uploaded")
        data = read_image_file(path).data
    return {"type": "image_url", "image_url": {"url": _data_url(data)}}


def _check_reference(reference: object) -> None:
    """A file value names a file (a path or Gradio's file data) or is a `data:` URL; never a URL."""
    location = (
        (reference.get("path") or reference.get("url")) if isinstance(reference, Mapping) else reference
    )
    if not isinstance(location, str):
        raise user_error("chatbot_picture_not_a_file", value=shown(reference))
    if is_http_url_like(location):
        raise user_error("file_url_refused")


def _decoded(data_url: str) -> bytes:
    """The image bytes of a `data:` URL, its size bounded before it is decoded."""
    header, comma, encoded = data_url.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise user_error("chatbot_data_url_malformed")
    if len(encoded) > MAX_DATA_URL_CHARS:
        raise too_heavy(len(encoded) * 3 // 4)
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except binascii.Error as error:
        raise user_error("chatbot_data_url_malformed") from error
    if len(data) > MAX_IMAGE_BYTES:
        raise too_heavy(len(data))
    return data


def _data_url(data: bytes) -> str:
    """The picture as a `data:` URL: as it came when every server reads its format and it is small
    enough, else scaled to `PICTURE_PIXELS` (as JPEG if it came as a JPEG or WebP photo, else PNG)."""
    header = check_header(data)
    mime_type = SENT_AS_IS.get(header.format)
    if mime_type is None or header.width * header.height > PICTURE_PIXELS:
        data, mime_type = _scaled(data)
    return f"data:{mime_type};base64,{base64.b64encode(data).decode()}"


def _scaled(data: bytes) -> tuple[bytes, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        image.load()
    scale = min(1.0, math.sqrt(PICTURE_PIXELS / (image.width * image.height)))
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    picture = image.convert("RGBA" if transparent else "RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if transparent or image.format not in ("JPEG", "WEBP"):
        picture.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue(), "image/png"
    picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), "image/jpeg"


def _without_pictures(message: Message) -> Message:
    content = message["content"]
    if isinstance(content, str):
        return message
    words = "".join(part["text"] for part in content if isinstance(part, dict) and part.get("type") == "text")
    return {"role": message["role"], "content": words}
