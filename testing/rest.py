"""Gradio's REST API called as curl, a browser or a script does: `POST /gradio_api/call/<api_name>`,
then the result's event stream.

Not gradio_client: it polls every job from two threads at 20 Hz, which adds about 150 ms per call and,
with dozens of jobs at once, more CPU than the app it drives. The bare protocol leaves only what the
app itself costs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client

FINAL_EVENTS = ("complete", "error")


class AppCallError(Exception):
    """The app answered a call with an error event; the message is the one a visitor would see."""


class EventStream:
    """Reads the lines of a server-sent event stream into (event, data) pairs."""

    def __init__(self) -> None:
        self.event = ""

    def read(self, line: str) -> tuple[str, Any] | None:
        """The (event, data) a `data:` line completes; None for any other line."""
        if line.startswith("event:"):
            self.event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            return self.event, json.loads(line.removeprefix("data:"))
        return None


async def call_events(
    client: httpx.AsyncClient, base_url: str, api_name: str, data: list[Any], session_hash: str
) -> AsyncIterator[tuple[str, Any]]:
    """Start one call and yield its events as (event, data).

    The stream is read to its end, after the result, so that its connection can serve the next call.
    """
    base = base_url.rstrip("/")
    posted = await client.post(
        f"{base}/gradio_api/call/{api_name}", json={"data": data, "session_hash": session_hash}
    )
    posted.raise_for_status()
    events = EventStream()
    result_url = f"{base}/gradio_api/call/{api_name}/{posted.json()['event_id']}"
    async with client.stream("GET", result_url) as stream:
        async for line in stream.aiter_lines():
            if (message := events.read(line)) is not None:
                yield message


async def final_events(
    client: httpx.AsyncClient, base_url: str, api_name: str, data: list[Any], session_hash: str
) -> list[tuple[str, Any]]:
    """How a call ended: its `complete` and `error` events, which a sound call has exactly one of."""
    return [
        (event, payload)
        async for event, payload in call_events(client, base_url, api_name, data, session_hash)
        if event in FINAL_EVENTS
    ]


class GradioRest:
    """One app's API, called one request at a time, with arguments by name as with gradio_client."""

    def __init__(self, client: Client, http: httpx.Client) -> None:
        self.url = client.src.rstrip("/")
        self.http = http
        endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        self.parameters = {name: endpoint["parameters"] for name, endpoint in endpoints.items()}

    def call(self, api_name: str, **arguments: Any) -> list[Any]:
        """The endpoint's outputs (the last ones, for a streaming endpoint).

        Parameters left out take the app's defaults; an error event raises AppCallError.
        """
        data = self._values(f"/{api_name}", arguments)
        posted = self.http.post(f"{self.url}/gradio_api/call/{api_name}", json={"data": data})
        posted.raise_for_status()
        with self.http.stream("GET", f"{posted.url}/{posted.json()['event_id']}") as stream:
            for event, payload in self._events(stream.iter_lines()):
                if event == "error":
                    raise AppCallError(payload.get("error") if isinstance(payload, dict) else payload)
                if event == "complete":
                    return payload
        raise AppCallError(f"the event stream of /{api_name} ended without a result")

    @staticmethod
    def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
        events = EventStream()
        for line in lines:
            if (message := events.read(line)) is not None:
                yield message

    def _values(self, endpoint: str, arguments: dict[str, Any]) -> list[Any]:
        parameters = self.parameters[endpoint]
        unknown = arguments.keys() - {parameter["parameter_name"] for parameter in parameters}
        if unknown:
            raise TypeError(f"{endpoint} has no parameter {', '.join(sorted(unknown))}")
        values = []
        for parameter in parameters:
            name = parameter["parameter_name"]
            if name not in arguments and not parameter["parameter_has_default"]:
                raise TypeError(f"{endpoint} needs a value for {name}")
            values.append(arguments.get(name, parameter["parameter_default"]))
        return values

    def upload(self, path: Path) -> dict[str, Any]:
        """Upload a file for a file input, as the browser does before calling."""
        with path.open("rb") as file:
            response = self.http.post(f"{self.url}/gradio_api/upload", files={"files": file})
        response.raise_for_status()
        return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}

    def download(self, file: dict[str, Any]) -> bytes:
        """The bytes of a file the app returned."""
        response = self.http.get(file["url"])
        response.raise_for_status()
        return response.content
