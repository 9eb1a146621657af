"""Tool calls put together from streamed fragments, as every OpenAI-compatible server sends them."""

from __future__ import annotations

import pytest

from common.tool_calls import ToolCall, ToolCallParts


def fragment(index: int | None, arguments: object = "", *, id: str | None = None, name: str | None = None):
    return {"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_interleaved_fragments_come_out_as_whole_calls_in_the_models_order():
    parts = ToolCallParts()
    for delta in (
        fragment(1, id="b", name="paint"),
        fragment(0, id="a", name="lookup"),
        fragment(0, '{"q": '),
        fragment(1, '{"prompt"'),
        fragment(0, '"Paris"}'),
        fragment(1, ': "a fox"}'),
    ):
        parts.add(delta)

    assert parts.calls() == [
        ToolCall(id="a", name="lookup", arguments='{"q": "Paris"}'),
        ToolCall(id="b", name="paint", arguments='{"prompt": "a fox"}'),
    ]


def test_arguments_sent_whole_as_an_object_and_calls_without_an_id_or_index_are_kept():
    parts = ToolCallParts()
    parts.add(fragment(None, {"q": "Paris"}, name="lookup"))  # TGI's shape

    (call,) = parts.calls()

    assert call == ToolCall(id="call_0", name="lookup", arguments='{"q": "Paris"}')
    assert call.parsed_arguments() == {"q": "Paris"}


@pytest.mark.parametrize(("arguments", "parsed"), [("", {}), ("  ", {}), ('{"a": [1, 2]}', {"a": [1, 2]})])
def test_no_arguments_are_an_empty_object(arguments, parsed):
    assert ToolCall("c", "t", arguments).parsed_arguments() == parsed


@pytest.mark.parametrize(("arguments", "error"), [('{"a": ', "Expecting value"), ("[1]", "not list")])
def test_arguments_that_are_not_a_json_object_are_refused(arguments, error):
    with pytest.raises(ValueError, match=error):
        ToolCall("c", "t", arguments).parsed_arguments()
