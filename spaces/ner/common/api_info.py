"""The API description programs and agents read: `gradio_api/info`, `view_api()` and MCP tool schemas.

Gradio builds it from the page's components, so it inherits what only suits a page: labels are
translation placeholders (`view_api()` then names every return `key`), sliders are floats whatever
the function takes, and a text box without an initial value is required even when the function has
a default. `publish_api_info` describes each parameter as the function declares it instead, with
English names, while the page itself stays translated.
"""

from __future__ import annotations

import copy
import inspect
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from types import NoneType, UnionType
from typing import Any

import gradio as gr
from gradio.blocks import BlockFunction
from gradio.components import JSON, Number, Slider
from gradio.components.api_component import Api
from gradio.events import python_type_to_json_schema
from gradio.i18n import I18nData
from gradio_client.utils import json_schema_to_python_type

from common.i18n import DEFAULT_LANGUAGE, catalog

_TRANSLATION = "translation_metadata"


def publish_api_info(demo: gr.Blocks) -> None:
    """Make `demo` describe its endpoints with English names, integer types and every default.

    Gradio's routes and its MCP server both read the description through `get_api_info`, which
    Gradio lets an app replace.
    """
    describe = demo.get_api_info

    def get_api_info(all_endpoints: bool = False, page: str | None = None) -> dict[str, Any]:
        info = copy.deepcopy(describe(all_endpoints=all_endpoints, page=page))
        for api_name, endpoint in info["named_endpoints"].items():
            block_fn = block_fn_named(demo, api_name)
            if block_fn is not None and block_fn.fn is not None:
                _describe_parameters(endpoint["parameters"], block_fn)
                _describe_json_returns(endpoint["returns"], block_fn)
            for value in endpoint["returns"]:
                value["label"] = english(value["label"])
        return info

    demo.get_api_info = get_api_info  # type: ignore[method-assign]


def english(label: Any) -> Any:
    """A translation placeholder's English text; any other label as it is."""
    if isinstance(label, I18nData):
        return catalog()[DEFAULT_LANGUAGE][label.key]
    if isinstance(label, dict) and label.get("_type") == _TRANSLATION:
        return catalog()[DEFAULT_LANGUAGE][label["key"]]
    return label


def name_json_result(block_fn: BlockFunction, name: str) -> None:
    """Name the value a `gr.api` endpoint returns and type it from the function's annotation.

    `gr.api` labels results "1st", "2nd", ..., and cannot type a generator's values or an annotation
    written as a string: the description then says `Any`.
    """
    (output,) = block_fn.outputs
    output.label = name
    output._api_info = python_type_to_json_schema(yielded_type(typing.get_type_hints(block_fn.fn)["return"]))


def yielded_type(annotation: Any) -> Any:
    """What a function returns, or for a generator what it yields."""
    if typing.get_origin(annotation) in (AsyncIterator, Iterator):
        return typing.get_args(annotation)[0]
    return annotation


def block_fn_named(blocks: gr.Blocks, api_name: str) -> BlockFunction | None:
    """The event of `blocks` served as `api_name` ("entities" or "/entities")."""
    return next((fn for fn in blocks.fns.values() if fn.api_name == api_name.lstrip("/")), None)


def _describe_parameters(parameters: list[dict[str, Any]], block_fn: BlockFunction) -> None:
    """Each parameter as the function takes it: its English label, type, bounds and default."""
    fn: Callable[..., Any] = block_fn.fn  # type: ignore[assignment]
    hints = typing.get_type_hints(fn)
    signature = inspect.signature(fn).parameters
    components = [block for block in block_fn.inputs if not block.skip_api]
    for parameter, component in zip(parameters, components, strict=True):
        name = parameter["parameter_name"]
        # `gr.api` labels its parameters "1st", "2nd", ...; its parameter names say more.
        parameter["label"] = name if isinstance(component, Api) else english(parameter["label"])
        if isinstance(component, (Slider, Number)):
            _add_bounds(parameter["type"], component)
        if _is_int(hints.get(name)):
            parameter["type"]["type"] = "integer"
            parameter["python_type"]["type"] = "int"
        declared = signature.get(name)
        has_default = declared is not None and declared.default is not inspect.Parameter.empty
        if has_default and not parameter["parameter_has_default"]:
            parameter["parameter_has_default"] = True
            parameter["parameter_default"] = declared.default


def _describe_json_returns(returns: list[dict[str, Any]], block_fn: BlockFunction) -> None:
    """A `gr.JSON` output is typed as any JSON; the function's annotation says what it holds."""
    outputs = [block for block in block_fn.outputs if not block.skip_api]
    annotation = yielded_type(typing.get_type_hints(block_fn.fn).get("return"))
    declared = typing.get_args(annotation) if typing.get_origin(annotation) is tuple else (annotation,)
    if len(declared) != len(outputs):
        return
    for value, component, python_type in zip(returns, outputs, declared, strict=True):
        if isinstance(component, JSON):
            value["type"] = python_type_to_json_schema(python_type)
            value["python_type"]["type"] = json_schema_to_python_type(value["type"])


def _add_bounds(schema: dict[str, Any], component: Slider | Number) -> None:
    for bound in ("minimum", "maximum"):
        if getattr(component, bound, None) is not None:
            schema[bound] = getattr(component, bound)


def _is_int(annotation: Any) -> bool:
    """`int`, or `int | None`."""
    if annotation is int:
        return True
    if isinstance(annotation, UnionType) or typing.get_origin(annotation) is typing.Union:
        members = set(typing.get_args(annotation)) - {NoneType}
        return members == {int}
    return False
