"""Clear refusals of calls whose values do not fit the endpoint.

Gradio answers a call with too few values, or with a value its component cannot read (a word for a
slider, null for a number), with an exception whose text it hides: the caller reads
`{"error": null}`. A text box also turns numbers, lists and objects into their Python text instead
of refusing them. Every call is checked here first against the endpoint's published description
(`common.api_info`), so the caller reads which parameter is wrong and what it takes, in their language.
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import gradio as gr
from gradio.blocks import BlockFunction
from gradio.components import Checkbox, Dropdown, File, Image, Number, Slider, Textbox
from gradio.components.api_component import Api
from gradio_client.utils import is_file_obj_with_meta

from common.components import check_held_file
from common.errors import user_error
from common.i18n import text
from common.request_context import serving
from common.validation import Range, check_float

# Components whose values are plain JSON, checked against their schema.
JSON_COMPONENTS = (Api, Checkbox, Dropdown, Number, Slider, Textbox)
# Components whose values name a file: Gradio's FileData, `{"path": ..., "meta": {...}}`.
FILE_COMPONENTS = (File, Image)
KIND_KEYS = {
    "string": "call_kind_string",
    "integer": "call_kind_integer",
    "number": "call_kind_number",
    "boolean": "call_kind_boolean",
    "array": "call_kind_array",
    "object": "call_kind_object",
}
# A missing value of these kinds is passed on: the task says what is missing in its own words.
MAY_BE_MISSING = {"null", "string", "array", "object"}
SHOWN_VALUE_CHARS = 60


def refuse_malformed_calls(demo: gr.Blocks) -> None:
    """Check every call of `demo`'s events before Gradio reads its values; a null stands for the
    parameter's default."""
    process = demo.process_api
    signature = inspect.signature(process)
    described: dict[str, list[dict[str, Any]]] = {}

    def parameters_of(block_fn: BlockFunction) -> list[dict[str, Any]]:
        if not described:
            endpoints = demo.get_api_info(all_endpoints=True)["named_endpoints"]
            described.update({name: endpoint["parameters"] for name, endpoint in endpoints.items()})
        return described.get(f"/{block_fn.api_name}", [])

    async def process_api(*args: Any, **kwargs: Any) -> dict[str, Any]:
        call = signature.bind(*args, **kwargs).arguments
        block_fn = call["block_fn"]
        if isinstance(block_fn, int):
            block_fn = demo.fns[block_fn]
        with serving(call.get("request")):
            # A generator's later steps carry no values; batches are checked by the function itself.
            if call.get("iterator") is None and not block_fn.batch:
                call["inputs"] = checked_call(block_fn, call["inputs"], parameters_of(block_fn))
            return await process(**call)

    demo.process_api = process_api  # type: ignore[method-assign]


def checked_call(block_fn: BlockFunction, values: list[Any], parameters: list[dict[str, Any]]) -> list[Any]:
    """The call's values, with each null that stands for a default replaced by it; too few values,
    or a value whose JSON type the parameter does not take, are refused."""
    needed = len(block_fn.inputs)
    values = _with_omitted_defaults(block_fn, values, parameters)
    if len(values) < needed:
        if parameters:
            names = ", ".join(parameter["parameter_name"] for parameter in parameters)
            raise user_error(
                "call_missing_values", endpoint=f"/{block_fn.api_name}", names=names, got=len(values)
            )
        raise user_error("call_missing_values_unnamed", needed=needed, got=len(values))
    checked = list(values)
    described = iter(parameters)
    for index, component in enumerate(block_fn.inputs):
        parameter = None if component.skip_api else next(described, None)
        if parameter is None:
            continue
        name, value = parameter["parameter_name"], checked[index]
        if value is None and parameter["parameter_has_default"]:
            checked[index] = value = parameter["parameter_default"]
        if isinstance(component, JSON_COMPONENTS):
            check_value(name, value, parameter["type"])
            check_files_within(name, value)
        elif isinstance(component, FILE_COMPONENTS):
            check_file(name, value)
    return checked


def _with_omitted_defaults(
    block_fn: BlockFunction, values: list[Any], parameters: list[dict[str, Any]]
) -> list[Any]:
    """The values, with trailing parameters the caller left out given their defaults, as the API
    description promises: for documented endpoints whose every input is a described parameter."""
    missing = parameters[len(values) :]
    documented = block_fn.api_visibility == "public" and len(parameters) == len(block_fn.inputs)
    if not documented or not all(parameter["parameter_has_default"] for parameter in missing):
        return values
    return [*values, *(parameter["parameter_default"] for parameter in missing)]


def check_file(name: str, value: Any) -> None:
    """A file value is FileData naming a file this app received, or null; the path is never
    repeated, so the answer does not tell which server files exist."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise user_error("call_not_a_file", name=name, kind=text(KIND_KEYS[_kind_of(value)]))
    location = value.get("path") or value.get("url")
    if isinstance(location, str):
        check_held_file(location)


def check_files_within(name: str, value: Any) -> None:
    """Gradio's file data anywhere in a JSON value (a picture of a chat message, say) names a file
    this app received: Gradio would refuse any other with an error whose text it hides. Read without
    recursion, so a deeply nested value costs nothing."""
    pending = [value]
    while pending:
        item = pending.pop()
        if is_file_obj_with_meta(item):
            check_file(name, item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def check_value(name: str, value: Any, schema: dict[str, Any]) -> None:
    kinds = json_kinds(schema)
    if not kinds or any(_is_kind(value, kind) for kind in kinds):
        check_bounds(name, value, schema)
        return
    if value is None and kinds & MAY_BE_MISSING:
        return
    expected = next(kind for kind in KIND_KEYS if kind in kinds)
    raise user_error("call_wrong_type", name=name, expected=text(KIND_KEYS[expected]), value=shown(value))


def check_bounds(name: str, value: Any, schema: dict[str, Any]) -> None:
    """A number within the schema's `minimum` and `maximum` (a slider's range), said in the caller's
    language before Gradio's slider says it in English."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    minimum = schema.get("minimum", -math.inf)
    check_float(value, name=name, allowed=Range(minimum, schema.get("maximum", math.inf), default=minimum))


def json_kinds(schema: dict[str, Any]) -> set[str]:
    """The JSON types a schema takes; empty when it takes anything."""
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    members = schema.get("anyOf") or schema.get("oneOf") or []
    kinds = [json_kinds(member) for member in members]
    return set() if not kinds or not all(kinds) else set().union(*kinds)


def shown(value: Any) -> str:
    """The value as the caller wrote it in JSON, cut short."""
    written = json.dumps(value, ensure_ascii=False, default=str)
    return written if len(written) <= SHOWN_VALUE_CHARS else written[: SHOWN_VALUE_CHARS - 1] + "…"


def _kind_of(value: Any) -> str:
    return next(kind for kind in KIND_KEYS if kind != "integer" and _is_kind(value, kind))


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":  # sliders send whole numbers as 25.0
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    expected = {"string": str, "number": (int, float), "array": list, "object": dict}.get(kind)
    return expected is None or isinstance(value, expected)
