"""English and Simplified Chinese: complete catalogs, and messages in the language the visitor asks for."""

from __future__ import annotations

import string

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from common.i18n import CHINESE, DEFAULT_LANGUAGE, catalog, preferred_language
from testing.apps import running_app, settings_from
from testing.inference_server import InferenceTestServer


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_text_exists_in_both_languages_with_the_same_placeholders():
    texts = catalog()
    assert set(texts) == {DEFAULT_LANGUAGE, CHINESE}
    assert set(texts[DEFAULT_LANGUAGE]) == set(texts[CHINESE])
    for key, english in texts[DEFAULT_LANGUAGE].items():
        assert placeholders(english) == placeholders(texts[CHINESE][key]), key
        assert texts[CHINESE][key].strip(), key


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh-TW", "zh-CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,zh;q=0.5,en;q=0.4", "zh-CN"),
        ("de-DE", "en"),
        ("en;q=0.2, zh-CN;q=0.7", "zh-CN"),
        ("garbage;q=abc", "en"),
    ],
)
def test_the_preferred_supported_language_wins(header, language):
    assert preferred_language(header) == language


def test_messages_follow_the_visitors_language(inference_server: InferenceTestServer):
    settings = settings_from({**inference_server.env(), "HF_TOKEN": "hf_test"})
    with running_app("summarize", settings) as english:
        chinese = Client(english.src, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})

        with pytest.raises(AppError, match="is empty"):
            english.predict("   ", api_name="/summarize")
        with pytest.raises(AppError, match="待摘要的文本为空"):
            chinese.predict("   ", api_name="/summarize")
