"""Images in and out of the apps, checked before they cost a model call.

Uploads arrive as file paths and are sent on as the original file: no decode and re-encode, no
base64 (InferenceClient posts the raw bytes, and its `image_to_text` rejects a PIL image anyway).
Generated images are written once as PNG files, so later steps (a caption, a history entry) use the
file rather than keeping pixels in memory.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradio.utils import get_upload_folder
from PIL import Image, ImageOps, UnidentifiedImageError

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


def read_image(upload: Upload) -> EncodedImage:
    """An uploaded image, after checking that it is an image of a sane size.

    Raises a `gr.Error` naming the problem for a missing file, a file that is not an image, or an
    image too large to process.
    """
    location = upload.get("path") if isinstance(upload, Mapping) else upload
    if not location:
        raise user_error("image_missing")
    path = Path(location)
    data = path.read_bytes()
    if len(data) > MAX_IMAGE_BYTES:
        raise user_error("image_too_heavy", megabytes=len(data) / 2**20, limit=MAX_IMAGE_BYTES // 2**20)
    _check_header(data)
    return EncodedImage(path, data)


def _check_header(data: bytes) -> None:
    """Read only the header: a bomb is refused before a single pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise _too_large(text("image_too_many_pixels")) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise user_error("image_unreadable") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise _too_large(text("image_pixels", width=width, height=height))


def _too_large(size: str) -> Exception:
    return user_error("image_too_large", size=size, limit=MAX_IMAGE_PIXELS // 1_000_000)


def save_png(image: Image.Image) -> Path:
    """Write a generated image as a PNG file in Gradio's cache folder and return its path.

    Gradio serves files from that folder as they are, so a path returned to a component costs no
    second encoding. Files are named by their content, as Gradio names its own: one picture, one file.
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    folder = Path(get_upload_folder()) / hashlib.sha256(data).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "image.png"
    path.write_bytes(data)
    return path
