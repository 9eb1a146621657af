"""Images in and out of the apps, checked before they cost a model call.

Uploads arrive as file paths and are sent on as the original file: no decode and re-encode, no
base64 (InferenceClient posts the raw bytes, and its `image_to_text` rejects a PIL image anyway).
Generated images are written once as PNG files, so later steps (a caption, a history entry) use the
file rather than keeping pixels in memory.

The image events skip Gradio's preprocessing (for clear messages), and with it Gradio's check that
a file was uploaded: so the check is here. A caller names a path; only a regular file inside Gradio's
upload folder is ever opened, its size is known before a byte is read, and the read runs off the
event loop. Any other path gets one message, whether or not it exists on the server.
"""

from __future__ import annotations

import asyncio
import io
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradio.processing_utils import save_bytes_to_cache
from gradio.utils import get_upload_folder
from PIL import Image, ImageOps, UnidentifiedImageError

from common.components import held_path
from common.errors import user_error
from common.i18n import text

# 40 megapixels covers any camera photo; larger is almost surely a decompression bomb.
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class EncodedImage:
    """An uploaded image file, checked. Remote backends send `path` (InferenceClient posts the
    file's bytes with a Content-Type from its name); local ones decode `data`."""

    path: Path
    data: bytes

    def decode(self) -> Image.Image:
        """The pixels, upright (phones record rotation in EXIF) and in RGB, for in-process models."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(self.data))
            image.load()
        return ImageOps.exif_transpose(image).convert("RGB")


Upload = str | Path | Mapping[str, Any] | None
"""A file path, or Gradio's file payload (`{"path": ...}`) when the event skips preprocessing."""


async def read_upload(upload: Upload) -> EncodedImage:
    """An image a client uploaded, after checking that it is an image of a sane size.

    Raises a `gr.Error` naming the problem for no image, a path that is not an upload, a file that is
    not an image, or an image too large to process.
    """
    location = upload.get("path") if isinstance(upload, Mapping) else upload
    if not location:
        raise user_error("image_missing")
    if not isinstance(location, (str, Path)):
        raise user_error("image_not_uploaded")
    path = held_path(location)
    if path is None:
        raise user_error("image_not_uploaded")
    return await asyncio.to_thread(read_image_file, path)


def read_image_file(path: Path) -> EncodedImage:
    """A checked image from a path this process trusts (an upload, a generated image, an example).

    Opened without following links and without blocking (a FIFO or device never holds the thread);
    anything but a regular file is refused, and so is one over the size limit, before reading it.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        raise user_error("image_not_uploaded") from error
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise user_error("image_not_uploaded")
        if status.st_size > MAX_IMAGE_BYTES:
            raise too_heavy(status.st_size)
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            data = file.read(MAX_IMAGE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > MAX_IMAGE_BYTES:  # it grew after the check
        raise too_heavy(len(data))
    check_header(data)
    return EncodedImage(path, data)


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header says: its format as Pillow names it ("PNG", "JPEG", ...) and its size."""

    format: str
    width: int
    height: int


def check_header(data: bytes) -> ImageHeader:
    """Read only the header: a bomb is refused before a single pixel is decoded.

    For image bytes that came as they are rather than as a file (a `data:` URL), the checks of an
    upload besides its size: an image Pillow reads, of a sane number of pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                header = ImageHeader(image.format or "", *image.size)
    except Image.DecompressionBombError:
        raise _too_large(text("image_too_many_pixels")) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise user_error("image_unreadable") from None
    if header.width * header.height > MAX_IMAGE_PIXELS:
        raise _too_large(text("image_pixels", width=header.width, height=header.height))
    return header


def too_heavy(size: int) -> Exception:
    return user_error("image_too_heavy", megabytes=size / 2**20, limit=MAX_IMAGE_BYTES // 2**20)


def _too_large(size: str) -> Exception:
    return user_error("image_too_large", size=size, limit=MAX_IMAGE_PIXELS // 1_000_000)


def save_png(image: Image.Image) -> Path:
    """Write a generated image as a PNG file in Gradio's cache folder and return its path.

    Written where and as Gradio itself would cache it (named by a seeded hash of its content), so a
    path returned to a component is neither copied nor encoded again, and Gradio's cache clean-up
    (`delete_cache`) deletes it with the rest.
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Path(save_bytes_to_cache(buffer.getvalue(), "image.png", get_upload_folder()))
