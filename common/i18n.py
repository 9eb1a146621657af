"""English and Simplified Chinese for every label, description and message.

Two kinds of text, one catalog (`common/locales/*.json`, one file per area, each mapping a locale
to `{key: text}`):

- UI text (labels, buttons, descriptions) is a `ui(key)` placeholder that Gradio's frontend
  translates by the browser's language, with `I18N` passed to `launch()` or `mount_gradio_app()`.
- Messages made on the server (errors, notes) are translated by `text(key, ...)` into the language
  the request asked for in its Accept-Language header; scripts that send none get English.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from common.request_context import current_request

DEFAULT_LANGUAGE = "en"
CHINESE = "zh-CN"
LOCALES_DIR = Path(__file__).parent / "locales"


@cache
def catalog() -> dict[str, dict[str, str]]:
    """Every locale's texts, merged from all catalog files."""
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(LOCALES_DIR.glob("*.json")):
        for locale, texts in json.loads(path.read_text(encoding="utf-8")).items():
            merged.setdefault(locale, {}).update(texts)
    return merged


def i18n() -> gr.I18n:
    """The translations for Gradio's frontend. Chinese is also offered as plain `zh`, so browsers
    set to another Chinese variant get Chinese rather than English."""
    texts = catalog()
    return gr.I18n(**texts, zh=texts[CHINESE])


def ui(key: str) -> I18nData:
    """A UI text that the browser shows in its own language."""
    if key not in catalog()[DEFAULT_LANGUAGE]:
        raise KeyError(f"no text {key!r} in common/locales")
    return I18nData(key)


def request_language() -> str:
    """The language of the request being handled: Chinese when the browser prefers it, else English.

    The request is the one `common.request_context` holds while an event runs, so messages need no
    extra parameter on every function.
    """
    request = current_request()
    header = request.headers.get("accept-language", "") if request is not None else ""
    return preferred_language(header)


def preferred_language(accept_language: str) -> str:
    """The first supported language of an Accept-Language header, by quality."""
    choices = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        if parameters.strip().startswith("q="):
            try:
                quality = float(parameters.strip()[2:])
            except ValueError:
                quality = 0.0
        choices.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(choices):
        if tag.startswith("zh"):
            return CHINESE
        if tag.startswith("en") or tag == "*":
            return DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def text(key: str, language: str | None = None, **fields: Any) -> str:
    """Message `key` in `language` (default: the request's), with `fields` filled in."""
    texts = catalog()
    template = texts.get(language or request_language(), {}).get(key) or texts[DEFAULT_LANGUAGE][key]
    return template.format(**fields)
