"""Server-side checks of every value a visitor or a script sends.

The UI's sliders and textboxes limit what a person can enter, but `gradio_client` and the REST API
send whatever they like; these checks make sure nothing out of range ever reaches a model.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from common.errors import user_error
from common.i18n import text

# Control characters other than tab and newline carry no meaning for a model and can break tokenizers.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Range:
    """An allowed interval, shared by the UI sliders and the server-side checks."""

    minimum: float
    maximum: float
    default: float
    step: float = 1


def clean_text(value: object, *, what: str, max_chars: int, required: bool = True) -> str:
    """Text ready for a model: a string without control characters, within the limit.

    `what` is the catalog key naming the field in messages (`field_prompt`, ...). Blank text is
    refused when `required`, and returned as "" otherwise.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise user_error("input_not_text", what=text(what), kind=type(value).__name__)
    cleaned = unicodedata.normalize("NFC", _CONTROL_CHARACTERS.sub("", value)).strip()
    if not cleaned and required:
        raise user_error("input_empty", what=text(what))
    if len(cleaned) > max_chars:
        raise user_error("input_too_long", what=text(what), length=len(cleaned), limit=max_chars)
    return cleaned


def check_int(value: object, *, name: str, allowed: Range) -> int:
    """A whole number within `allowed`; floats that are whole (25.0, as sliders send) are accepted."""
    number = _number(value, name)
    if not number.is_integer():
        raise user_error("input_not_whole", name=name, value=repr(value))
    _check_bounds(number, name, allowed)
    return int(number)


def check_float(value: object, *, name: str, allowed: Range) -> float:
    number = _number(value, name)
    _check_bounds(number, name, allowed)
    return number


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise user_error("input_not_number", name=name, value=repr(value))
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise user_error("input_not_finite", name=name) from None
    if not math.isfinite(number):
        raise user_error("input_not_finite", name=name)
    return number


def _check_bounds(number: float, name: str, allowed: Range) -> None:
    if not allowed.minimum <= number <= allowed.maximum:
        raise user_error(
            "input_out_of_range", name=name, minimum=allowed.minimum, maximum=allowed.maximum, value=number
        )
