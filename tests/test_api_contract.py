"""The contract programs read: `gradio_api/info` and `view_api()` in English with exact types, and a
clear message for every call whose values do not fit, in the caller's language.

Each app's documented contract is kept in `tests/api_contract/<app>.json`; a change to it fails here
until the snapshot is rewritten on purpose (`UPDATE_API_CONTRACT=1`, see docs/api.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gradio_client import Client

from testing.apps import launched_apps, settings_from
from testing.inference_server import InferenceTestServer
from tests.harness import ROOT, SPACES
from tests.raw_api import app_config, call_api, join_queue

SNAPSHOTS = ROOT / "tests" / "api_contract"
REQUIRED = "(required)"


def contract(info: dict[str, Any]) -> dict[str, Any]:
    """What a caller relies on: each endpoint's parameters (name, type, default) and returns."""
    return {
        name: {
            "parameters": [
                {
                    "name": parameter["parameter_name"],
                    "type": parameter["python_type"]["type"],
                    "default": parameter["parameter_default"]
                    if parameter["parameter_has_default"]
                    else REQUIRED,
                }
                for parameter in endpoint["parameters"]
            ],
            "returns": [
                {"name": value["label"], "type": value["python_type"]["type"]}
                for value in endpoint["returns"]
            ],
        }
        for name, endpoint in sorted(info["named_endpoints"].items())
    }


@pytest.fixture(scope="module")
def urls(inference_server: InferenceTestServer) -> Iterator[dict[str, str]]:
    with launched_apps(settings_from({**inference_server.env(), "HF_TOKEN": "hf_test_contract"})) as launched:
        yield launched


def api_info(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}gradio_api/info", timeout=10).json()


@pytest.mark.parametrize("name", SPACES)
def test_each_apps_contract_matches_its_snapshot(urls, name):
    found = contract(api_info(urls[name]))
    snapshot = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_API_CONTRACT") == "1":
        snapshot.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert found == json.loads(snapshot.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SPACES)
def test_the_api_description_is_in_english_while_the_page_stays_translated(urls, name):
    assert "translation_metadata" not in httpx.get(f"{urls[name]}gradio_api/info", timeout=10).text
    assert "translation_metadata" in httpx.get(f"{urls[name]}config", timeout=10).text


def test_view_api_names_every_return(urls):
    telephone = Client(urls["game"], verbose=False).view_api(return_format="dict", print_info=False)

    returns = telephone["named_endpoints"]["/telephone"]["returns"]
    assert [value["label"] for value in returns] == [
        "Timeline",
        "Similarity of the first and last caption (%)",
        "Verdict",
    ]


def test_whole_numbers_are_integers_and_defaults_are_optional(urls):
    generate = api_info(urls["imagegen"])["named_endpoints"]["/generate"]
    parameters = {parameter["parameter_name"]: parameter for parameter in generate["parameters"]}

    assert {name: p["python_type"]["type"] for name, p in parameters.items()} == {
        "prompt": "str",
        "negative_prompt": "str",
        "steps": "int",
        "guidance": "float",
        "width": "int",
        "height": "int",
        "seed": "int",
    }
    assert parameters["steps"]["type"] == {
        "type": "integer",
        "description": "numeric value between 1 and 100",
        "minimum": 1,
        "maximum": 100,
    }
    assert (
        parameters["negative_prompt"]["parameter_has_default"],
        parameters["negative_prompt"]["parameter_default"],
    ) == (
        True,
        "",
    )


def test_a_script_may_leave_out_the_negative_prompt(urls, server):
    _, seed = Client(urls["imagegen"], verbose=False).predict(
        "a fox", seed=3, width=64, height=64, api_name="/generate"
    )

    assert seed == 3
    assert server.requests_for("imagegen")[-1].json["inputs"] == "a fox"


NOT_A_FILE = (
    'image must be a file uploaded to this app ({"path": ..., "meta": {"_type": "gradio.FileData"}} over '
    "REST, handle_file with gradio_client), not "
)
MALFORMED_CALLS = [
    ("summarize", "summarize", ["text", "x", 130], 'min_length must be a whole number, not "x".'),
    (
        "summarize",
        "summarize",
        [],
        "/summarize takes these values, in order: text, min_length, max_length; it got 0.",
    ),
    ("summarize", "summarize", [5, 30, 130], "text must be text, not 5."),
    ("summarize", "summarize", [["a"], 30, 130], 'text must be text, not ["a"].'),
    ("summarize", "summarize", [{"a": 1}, 30, 130], 'text must be text, not {"a": 1}.'),
    ("summarize", "summarize_document", ["text", "x", 130], 'min_length must be a whole number, not "x".'),
    (
        "summarize",
        "summarize_document",
        [],
        "/summarize_document takes these values, in order: text, min_length, max_length; it got 0.",
    ),
    ("ner", "entities", ["Paris", "high"], 'threshold must be a number, not "high".'),
    ("caption", "caption", [5], NOT_A_FILE + "a number."),
    ("caption", "caption", [["a", "list"]], NOT_A_FILE + "a list."),
    ("imagegen", "generate", ["a fox", "", 2.5, 7, 64, 64, 1], "steps must be a whole number, not 2.5."),
    ("imagegen", "generate", ["a fox", "", 2, True, 64, 64, 1], "guidance must be a number, not true."),
    ("chatbot", "chat", [["hi"], "", 0.7, 64, None, None], 'message must be text, not ["hi"].'),
    ("chatbot", "chat", ["hi", "", 0.7, 64, "earlier", None], 'history must be a list, not "earlier".'),
]


@pytest.mark.parametrize(("name", "api", "data", "expected"), MALFORMED_CALLS)
def test_a_malformed_call_is_told_what_the_parameter_takes(urls, server, name, api, data, expected):
    result = call_api(urls[name], api, data)

    assert (result.failed, result.error) == (True, expected)
    assert server.requests == []


def test_values_left_out_at_the_end_take_their_defaults(urls, server):
    result = call_api(urls["chatbot"], "chat", ["hi"])

    assert result.output == ["You said: hi (turn 1)"]
    assert server.requests_for("chat")[-1].json["max_tokens"] == 512


def test_a_huge_number_is_refused_as_not_finite(urls, server):
    result = call_api(urls["ner"], "entities", ["My name is Andrew", 10**400])

    assert result.error == "threshold must be a finite number."


def test_a_null_stands_for_the_default(urls, server):
    text = "The tower is 324 metres tall. It is in Paris."

    result = call_api(urls["summarize"], "summarize", [text, None, None])

    assert result.output == ["The tower is 324 metres tall."]
    assert server.requests_for("summarize")[-1].json["parameters"] == {
        "generate_parameters": {"min_length": 30, "max_length": 130}
    }


def test_the_refusal_speaks_the_callers_language(urls):
    result = call_api(
        urls["summarize"], "summarize", ["text", "x", 130], headers={"Accept-Language": "zh-CN"}
    )

    assert result.error == 'min_length 必须是整数，而不是 "x"。'


@pytest.mark.parametrize("name", SPACES)
def test_no_event_answers_a_call_without_values_with_an_empty_error(urls, name):
    """The page's own events too, called by their index: each runs on its defaults or says what it
    takes."""
    events = app_config(urls[name])["dependencies"]
    silent = []
    for fn_index, event in enumerate(events):
        if not event["inputs"] or not event["backend_fn"]:
            continue
        result = join_queue(urls[name], fn_index, [])
        if result.failed and not result.error:
            silent.append((fn_index, event.get("api_name"), result.raw[-200:]))
    assert silent == []
