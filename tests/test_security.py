"""Every app as an anonymous, hostile caller meets it: on a public link, a Space or an MCP client.

Each probe goes through the raw wire protocol (`gradio_api/queue/join` with any fn_index, and
`gradio_api/call/<api>`), through `gradio_client` or through the official `mcp` SDK, against each app
launched alone and against all six mounted by `scripts/serve.py`. Whatever the probe, the caller gets
no server file, no token, no other visitor's conversation, no raw exception text and no private
address, and other visitors are still served while it runs.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import safehttpx
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from common.settings import Settings
from scripts import serve
from scripts.serve import load_app
from scripts.serving import serving
from testing.apps import launched_apps, settings_from
from testing.inference_server import InferenceTestServer
from tests.harness import ROOT, SPACES
from tests.raw_api import Result, app_config, call_api, file_payload, join_queue

TOKEN = "hf_security_probe_token_0123456789"
SECRET = "SECRET-of-the-server-5f2c"
PASSWD_LINE = re.compile(r"root:[^:\n]*:0:0:")
PROJECT_LINE = 'name = "gradio-genai-spaces"'  # pyproject.toml, in the directory the apps run from
NOT_UPLOADED = "was not uploaded"
RAW_EXCEPTION_TEXT = ("Original error", "Traceback", "object at 0x", "Errno", "TypeError", "KeyError")
IMAGE_EVENTS = {"caption": ["caption"], "game": ["caption", "caption_and_generate", "telephone"]}
EXTRA_INPUTS = {"telephone": [1]}


# The server side: files no visitor may read, and the places the apps are served.


@pytest.fixture(scope="module")
def server_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files on the server outside what Gradio received: a secret, a picture, a FIFO."""
    folder = tmp_path_factory.mktemp("server-files")
    secret = folder / "secret.env"
    secret.write_text(f"HF_TOKEN={SECRET}\n")
    picture = folder / "private.png"
    Image.new("RGB", (24, 16), (200, 10, 10)).save(picture)
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    return {"secret": secret, "picture": picture, "fifo": fifo}


@pytest.fixture(scope="module")
def settings(inference_server: InferenceTestServer) -> Settings:
    return settings_from({**inference_server.env(), "HF_TOKEN": TOKEN})


@pytest.fixture(scope="module")
def single_apps(settings: Settings) -> Iterator[dict[str, str]]:
    """Each app launched alone, as `python spaces/<name>/app.py` does, with MCP on."""
    with launched_apps(settings) as urls:
        yield urls


@pytest.fixture(scope="module")
def serve_all(settings: Settings) -> Iterator[dict[str, str]]:
    """All six apps mounted by serve.py, as `serve.py --share` and `dev.py run` serve them."""
    app = serve.build_app(settings, mcp_server=True)
    with serving(app) as served:
        serve.set_local_urls(app, served.url)
        yield {name: f"{served.url}/{name}/" for name in SPACES}


@pytest.fixture(params=["alone", "serve-all"])
def apps(request: pytest.FixtureRequest) -> dict[str, str]:
    return request.getfixturevalue("single_apps" if request.param == "alone" else "serve_all")


def leaks(text: str) -> list[str]:
    """What of the server's secrets a response holds."""
    found = []
    if SECRET in text:
        found.append("the secret file")
    if TOKEN in text:
        found.append("the token")
    if PASSWD_LINE.search(text):
        found.append("/etc/passwd")
    if "PATH=" in text and "HOME=" in text:
        found.append("the process environment")
    if PROJECT_LINE in text:
        found.append("a file of the working directory")
    return found


def fetched_files(base_url: str, result: Result) -> str:
    """Everything the result's file URLs serve, as a visitor's browser would fetch it."""
    bodies = []
    for url in set(re.findall(r"gradio_api/file=[^\"'\s]+", result.raw)):
        response = httpx.get(f"{base_url.rstrip('/')}/{url}", timeout=10)
        bodies.append(response.content.decode("utf-8", "replace"))
    return "\n".join(bodies)


def hostile_value(component: dict[str, Any], path: str) -> Any:
    """What an attacker puts where a component's value goes: the server path dressed as an upload, in
    a chat history, or in the saved conversations a page keeps in the browser."""
    if component.get("type") == "chatbot":
        return [{"role": "user", "content": [{"type": "file", "file": file_payload(path)}]}]
    if component.get("type") == "dataset":  # the index of a saved conversation or an example
        return 0
    if component.get("type") == "multimodaltextbox":  # the chat's message box, with pictures
        return {"text": "what is this?", "files": [file_payload(path)]}
    if component.get("type") == "browserstate":
        return [
            [{"role": "user", "content": [{"file": {"path": path}, "alt_text": None}]}],
            [{"role": "user", "content": {"path": path}}],
        ]
    return file_payload(path)


# 1. No event of any app hands out a server file.


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd", "secret", "pyproject.toml"])
def test_no_event_of_any_app_serves_a_server_file(apps, server_files, target):
    paths = {"secret": str(server_files["secret"]), "pyproject.toml": str(ROOT / "pyproject.toml")}
    path = paths.get(target, target)
    probed = 0
    for name, base_url in apps.items():
        config = app_config(base_url)
        components = {component["id"]: component for component in config["components"]}
        for fn_index, dependency in enumerate(config["dependencies"]):
            data = [hostile_value(components[block], path) for block in dependency["inputs"]]
            result = join_queue(base_url, fn_index, data)
            found = leaks(result.raw) + leaks(fetched_files(base_url, result))
            assert not found, f"{name} fn {fn_index} ({dependency.get('api_name')}) gave away {found}"
            probed += 1
    assert probed > 40  # every event of all six apps, not just the documented ones


def test_the_chatbot_history_trick_is_refused_under_serve_all(serve_all):
    """The exact call that took the server's environment: the chatbot's undo event
    (`_pop_last_user_message_1`), given a history whose user message names a server file."""
    base_url = serve_all["chatbot"]
    config = app_config(base_url)
    components = {component["id"]: component for component in config["components"]}
    fn_index, dependency = next(
        (index, dependency)
        for index, dependency in enumerate(config["dependencies"])
        if dependency.get("api_name") == "_pop_last_user_message_1"
    )
    assert [components[block]["type"] for block in dependency["inputs"]] == ["chatbot"]

    result = join_queue(
        base_url, fn_index, [hostile_value(components[dependency["inputs"][0]], "/proc/self/environ")]
    )

    assert result.failed
    assert "gradio_api/file=" not in result.raw and not leaks(result.raw)
    assert "/proc/self/environ" not in result.message  # Gradio's own words, with the path, stay in the log


# 2. and 3. Image inputs take only what Gradio received, and never stall the app.


def image_calls(apps: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    for name, events in IMAGE_EVENTS.items():
        for api_name in events:
            yield name, api_name, apps[name]


@pytest.mark.parametrize("target", ["picture", "secret", "missing", "fifo", "/dev/zero", "/etc/passwd"])
def test_an_image_input_never_opens_a_path_the_caller_names(apps, server_files, target):
    paths = {"missing": str(server_files["secret"].parent / "no-such-file.png"), **server_files}
    path = str(paths.get(target, target))
    for name, api_name, base_url in image_calls(apps):
        # One answer whatever the path, so no telling which server files exist.
        for value, expected in (
            ({"path": path}, NOT_UPLOADED),
            (file_payload(path), NOT_UPLOADED),
            (path, "image must be a file uploaded to this app"),
        ):
            result = call_api(base_url, api_name, [value, *EXTRA_INPUTS.get(api_name, [])])
            assert result.failed, f"{name}/{api_name} accepted {path}"
            assert expected in result.message, (name, api_name, result.raw)
            assert path not in result.raw and "Errno" not in result.raw
            assert not leaks(result.raw)


def test_a_real_upload_still_works_and_a_large_one_is_refused_before_reading(apps, server_files, tmp_path):
    client = Client(apps["caption"], verbose=False)
    assert client.predict(handle_file(str(server_files["picture"])), api_name="/caption") == (
        "a 24x16 red picture"
    )
    # A file Gradio received that is over the limit, as a sparse file: reading it would take 400 MB.
    folder = Path(get_upload_folder()) / "probe-large"
    folder.mkdir(parents=True, exist_ok=True)
    large = folder / "large.png"
    with large.open("wb") as file:
        file.truncate(400 * 2**20)
    result = call_api(apps["caption"], "caption", [file_payload(str(large))])
    assert "the limit is 25 MB" in result.message


def test_uploads_over_the_limit_are_refused_by_every_app(apps):
    too_big = b"\0" * (25 * 1024 * 1024 + 1)
    for name, base_url in apps.items():
        response = httpx.post(
            f"{base_url.rstrip('/')}/gradio_api/upload", files={"files": ("big.png", too_big)}, timeout=30
        )
        assert response.status_code == 413, name


def test_a_fifo_in_the_upload_folder_is_refused_at_once_and_others_are_served(apps):
    """Even a special file where uploads live (it cannot get there by upload) never blocks a read."""
    folder = Path(get_upload_folder()) / "probe-fifo"
    folder.mkdir(parents=True, exist_ok=True)
    fifo = folder / "image.png"
    if not fifo.exists():
        os.mkfifo(fifo)
    results: dict[str, Result] = {}
    hostile = threading.Thread(
        target=lambda: results.update(hostile=call_api(apps["caption"], "caption", [file_payload(str(fifo))]))
    )
    hostile.start()
    # Meanwhile another visitor uses another app and the same app.
    ner = Client(apps["ner"], verbose=False)
    assert ner.predict("Andrew lives in Paris", 0.0, api_name="/entities")[0]["text"] == "Andrew"
    assert httpx.get(f"{apps['caption'].rstrip('/')}/config", timeout=10).status_code == 200
    hostile.join(30)
    assert not hostile.is_alive(), "the hostile call never ended"
    assert NOT_UPLOADED in results["hostile"].message


# 4. Chat over MCP and REST carries its own history: no caller sees another's conversation.


async def mcp_chat(url: str, arguments: dict[str, Any], progress: bool) -> str:
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            return None

        result = await session.call_tool(
            "chat", arguments, progress_callback=on_progress if progress else None
        )
        assert not result.isError, result.content
        return result.content[0].text


@pytest.mark.parametrize("progress", [False, True], ids=["no-progress-token", "progress-token"])
def test_mcp_chat_sessions_do_not_share_a_conversation(apps, server, progress):
    url = f"{apps['chatbot'].rstrip('/')}/gradio_api/mcp/"
    first = asyncio.run(mcp_chat(url, {"message": "SECRET of session A: hunter2"}, progress))
    second = asyncio.run(mcp_chat(url, {"message": "hello from B"}, progress))

    assert "You said: SECRET of session A: hunter2 (turn 1)" in first
    assert "You said: hello from B (turn 1)" in second
    sent = [request.json["messages"] for request in server.requests_for("chat")]
    assert all("hunter2" not in str(message) for message in sent[1])


def test_a_chat_call_carries_its_own_history(apps, server):
    history = [
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
    ]
    client = Client(apps["chatbot"], verbose=False)
    reply = client.predict("What is my name?", history=history, api_name="/chat")
    assert reply == "You said: What is my name? (turn 2)"
    # Another call of the same client starts afresh: nothing is kept on the server between calls.
    assert client.predict("Again", api_name="/chat") == "You said: Again (turn 1)"
    assert [m["content"] for m in server.requests_for("chat")[0].json["messages"][1:]] == [
        "My name is Ada.",
        "Hello Ada.",
        "What is my name?",
    ]


# 5. and 7. Messages a visitor reads hold no raw exception text and no private address.


def test_malformed_calls_show_no_raw_exception_text(apps):
    for name, api_name, data in [
        ("summarize", "summarize", [{"not": "text"}, "x", None]),
        ("imagegen", "generate", ["a cat", None, "many", 7.0]),
        ("chatbot", "choose_model", [["a", "list"]]),
        ("ner", "entities", [None]),
    ]:
        result = call_api(apps[name], api_name, data)
        assert result.failed
        assert not any(words in result.raw for words in RAW_EXCEPTION_TEXT), (name, api_name, result.raw)


def test_backend_failures_name_the_task_but_not_the_endpoint_host(apps, server, caplog):
    server.inject("server_error", "summarize", times=4)
    caplog.set_level(logging.WARNING, logger="common")
    with pytest.raises(AppError) as raised:
        Client(apps["summarize"], verbose=False).predict("The tower is tall.", api_name="/summarize")
    message = str(raised.value)
    assert "summarization" in message and "try again" in message
    assert "127.0.0.1" not in message and server.url not in message
    assert server.url in caplog.text  # the operator's log keeps the address


@contextmanager
def listener() -> Iterator[tuple[str, list[bytes]]]:
    """A TCP listener on this machine standing in for a host the caller controls; yields its address and
    what reached it."""
    received: list[bytes] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = sock.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    received.append(connection.recv(65536))
                except OSError:
                    received.append(b"")

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}", received
    finally:
        stop.set()
        thread.join(5)
        sock.close()


async def mcp_call_with_headers(
    url: str, headers: dict[str, str], tool: str, arguments: dict[str, Any]
) -> Any:
    async with (
        httpx.AsyncClient(headers=headers, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await session.call_tool(tool, arguments)


def test_an_mcp_caller_cannot_point_the_apps_at_another_host(apps, server):
    """Gradio's MCP server calls the app's own API; a mounted app once took that address from the first
    MCP request's Host header, and sent the server's token there."""
    with listener() as (address, received):
        result = asyncio.run(
            mcp_call_with_headers(
                f"{apps['ner'].rstrip('/')}/gradio_api/mcp/",
                {"X-Forwarded-Host": address, "X-Forwarded-Proto": "http"},
                "entities",
                {"text": "Andrew lives in Paris", "threshold": 0.0},
            )
        )
    assert not result.isError, result.content
    assert "Andrew" in result.content[0].text
    assert received == []


PUBLIC_HOST = "public.example"


@pytest.fixture
def public_host(monkeypatch: pytest.MonkeyPatch) -> str:
    """A host name Gradio takes for a public address (it refuses to fetch from private ones), that
    reaches a listener on this machine: what a caller's own server on the internet would be."""
    resolve = safehttpx.async_validate_url

    async def validate(hostname: str) -> str:
        return "127.0.0.1" if hostname == PUBLIC_HOST else await resolve(hostname)

    monkeypatch.setattr(safehttpx, "async_validate_url", validate)
    return PUBLIC_HOST


def test_no_event_of_any_app_fetches_a_url(apps, public_host):
    with listener() as (address, received):
        url = f"http://{public_host}:{address.split(':')[1]}/latest/meta-data/iam"
        for name, base_url in apps.items():
            config = app_config(base_url)
            components = {component["id"]: component for component in config["components"]}
            for fn_index, dependency in enumerate(config["dependencies"]):
                join_queue(
                    base_url, fn_index, [hostile_value(components[b], url) for b in dependency["inputs"]]
                )
                assert received == [], f"{name} fn {fn_index} ({dependency.get('api_name')}) fetched the URL"


def test_a_url_for_an_image_gets_a_message_that_says_what_to_send(apps, public_host):
    with listener() as (address, received):
        url = f"http://{public_host}:{address.split(':')[1]}/picture.png"
        for base_url, api_name, data in [
            (apps["caption"], "caption", [file_payload(url)]),
            (apps["game"], "telephone", [file_payload(url), 1]),
        ]:
            assert "does not fetch files from URLs" in call_api(base_url, api_name, data).message
    assert received == []


def test_a_component_an_event_returns_keeps_the_protection(apps, public_host):
    """Loading a saved conversation returns a new chatbot, which Gradio keeps for the session in place
    of the app's; the next event of that session must still refuse what the first one would."""
    config = app_config(apps["chatbot"])
    index = {dependency.get("api_name"): n for n, dependency in enumerate(config["dependencies"])}
    session = "one-visitor-session"
    join_queue(
        apps["chatbot"], index["_load_conversation"], [0, [[{"role": "user", "content": "hi"}]]], session
    )
    with listener() as (address, received):
        url = f"http://{public_host}:{address.split(':')[1]}/latest/meta-data/iam"
        history = [
            {"role": "assistant", "content": [{"type": "file", "file": file_payload(url)}]},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        ]
        result = join_queue(apps["chatbot"], index["_pop_last_user_message_1"], [history], session)
    assert "does not fetch files from URLs" in result.message, result.raw
    assert received == []


async def mcp_caption(url: str, image: str) -> Any:
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        return await session.call_tool("caption", {"image": image})


def test_over_mcp_an_image_comes_as_a_data_url_never_a_url_to_fetch(apps, public_host):
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (0, 200, 0)).save(buffer, format="PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    mcp_url = f"{apps['caption'].rstrip('/')}/gradio_api/mcp/"

    captioned = asyncio.run(mcp_caption(mcp_url, data_url))
    with listener() as (address, received):
        fetched = asyncio.run(mcp_caption(mcp_url, f"http://{public_host}:{address.split(':')[1]}/x.png"))

    assert not captioned.isError and captioned.content[0].text == "a 20x10 green picture"
    assert fetched.isError and "does not fetch files from URLs" in fetched.content[0].text
    assert received == []


async def mcp_call(url: str, tool: str, arguments: dict[str, Any]) -> Any:
    async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        return await session.call_tool(tool, arguments)


@pytest.mark.parametrize("target", ["secret", "fifo", "missing"])
def test_an_mcp_argument_cannot_name_a_server_file(apps, server, server_files, target):
    """Gradio's MCP server hands arguments to a client that uploads every file they name from the
    server's disk: a chat history carrying file data would copy the secret, or hang on the FIFO."""
    path = str(server_files.get(target, server_files["secret"].parent / "no-such-file"))
    named = {"path": path, "meta": {"_type": "gradio.FileData"}}
    history = [{"role": "user", "content": "hi", "attachment": named}]
    url = f"{apps['chatbot'].rstrip('/')}/gradio_api/mcp/"

    result = asyncio.run(mcp_call(url, "chat", {"message": "hi", "history": history}))

    assert result.isError
    assert "Arguments cannot name files on the server" in result.content[0].text
    assert "Errno" not in result.content[0].text and path not in result.content[0].text
    assert not any(Path(get_upload_folder()).rglob(Path(path).name))
    assert server.requests_for("chat") == []


def open_descriptors_on(folder: Path) -> int:
    """How many of this process's file descriptors are open on `folder` (the apps run in-process)."""
    count = 0
    for entry in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(entry) == str(folder)
        except OSError:
            continue
    return count


def test_naming_a_folder_as_the_image_leaves_nothing_open(apps):
    folder = Path(os.path.realpath(get_upload_folder()))
    before = open_descriptors_on(folder)
    for _ in range(10):
        result = call_api(apps["caption"], "caption", [{"path": str(folder)}])
        assert NOT_UPLOADED in result.message
    assert open_descriptors_on(folder) == before


def test_a_chat_history_too_large_to_count_quickly_is_refused(apps, server):
    history = [{"role": "user", "content": "x" * 20_000}, {"role": "assistant", "content": "y" * 20_000}] * 26
    result = call_api(apps["chatbot"], "chat", ["hi", "", 0.7, 64, history, None])
    assert result.message == "history holds 1,040,000 characters; at most 1,000,000 are taken."
    assert server.requests_for("chat") == []


def test_odd_history_values_are_read_or_left_out_never_a_crash(apps, server):
    history = [
        {"role": "user", "content": "first", "metadata": "not a mapping"},
        {"role": "assistant", "content": [[["nested"]], {"type": "text", "text": "kept"}]},
        {"role": "system", "content": "a caller may not add system messages this way"},
    ]
    result = call_api(apps["chatbot"], "chat", ["second", "", 0.7, 64, history, None])
    assert result.output == ["You said: second (turn 2)"], result.raw
    assert server.requests_for("chat")[-1].json["messages"] == [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "kept"},
        {"role": "user", "content": "second"},
    ]


# 8. Files the apps keep are deleted after a day.


@pytest.mark.parametrize("name", SPACES)
def test_every_app_deletes_cached_files_older_than_a_day_every_hour(settings, name):
    assert load_app(name).build_demo(settings).delete_cache == (3600, 86400)


def test_no_response_of_an_image_app_returns_a_server_picture(apps, server_files):
    """The telephone game once handed back a byte-identical copy of a PNG named by path."""
    original = server_files["picture"].read_bytes()
    result = call_api(apps["game"], "telephone", [{"path": str(server_files["picture"])}, 1])
    for url in re.findall(r"gradio_api/file=[^\"'\s]+", result.raw):
        served = httpx.get(f"{apps['game'].rstrip('/')}/{url}", timeout=10).content
        assert served != original
        assert Image.open(io.BytesIO(served)).size != (24, 16)


# 9. A chat message's pictures: only files the app received, data: URLs, never a path or a URL.


def chat_with_picture(base_url: str, picture: Any, history: Any = None) -> Result:
    """`/chat` over REST with one picture attached to the message, or named in the history."""
    if history is not None:
        return call_api(base_url, "chat", ["what is this?", "", 0.7, 64, history, None])
    return call_api(
        base_url, "chat", [{"text": "what is this?", "files": [picture]}, "", 0.7, 64, None, None]
    )


def picture_data_url(image: Image.Image, format: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return f"data:image/{format.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


@pytest.mark.parametrize("target", ["picture", "secret", "missing", "fifo", "/dev/zero", "/etc/passwd"])
def test_a_chat_picture_never_opens_a_path_the_caller_names(apps, server, server_files, target):
    paths = {"missing": str(server_files["secret"].parent / "no-such-file.png"), **server_files}
    path = str(paths.get(target, target))
    for where, picture, history in [
        ("message, as a path", path, None),
        ("message, as a file dict", {"path": path}, None),
        ("message, as Gradio's file data", file_payload(path), None),
        (
            "history, as a file part",
            None,
            [{"role": "user", "content": [{"type": "file", "file": {"path": path}}]}],
        ),
        ("history, as the content", None, [{"role": "user", "content": {"path": path}}]),
    ]:
        result = chat_with_picture(apps["chatbot"], picture, history)
        assert result.failed and NOT_UPLOADED in result.message, (where, result.raw)
        assert path not in result.raw and "Errno" not in result.raw and not leaks(result.raw), where
    assert server.requests_for("chat") == []


def test_gradio_client_cannot_name_a_server_file_as_a_picture(apps, server, server_files):
    client = Client(apps["chatbot"], verbose=False)
    for picture in (str(server_files["secret"]), {"path": str(server_files["picture"])}):
        with pytest.raises(AppError, match=NOT_UPLOADED) as refused:
            client.predict({"text": "what is this?", "files": [picture]}, api_name="/chat")
        assert str(server_files["secret"].parent) not in str(refused.value)
    assert server.requests_for("chat") == []


def test_a_chat_picture_named_by_url_is_never_fetched(apps, server, public_host):
    client = Client(apps["chatbot"], verbose=False)
    with listener() as (address, received):
        url = f"http://{public_host}:{address.split(':')[1]}/latest/meta-data/iam.png"
        with pytest.raises(AppError, match="does not fetch files from URLs"):
            client.predict({"text": "what is this?", "files": [handle_file(url)]}, api_name="/chat")
        for picture, history in [
            (url, None),
            (file_payload(url), None),
            (None, [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]),
        ]:
            assert (
                "does not fetch files from URLs"
                in chat_with_picture(apps["chatbot"], picture, history).message
            )
    assert received == []
    assert server.requests_for("chat") == []


def test_a_chat_picture_that_is_no_file_gets_one_message_naming_it(apps, server):
    for picture, message in [
        (
            42,
            "Each file of a message must be a picture uploaded to this app (gradio_client's handle_file) "
            "or a data: URL (data:image/png;base64,...), not 42.",
        ),
        ([["nested"]], 'or a data: URL (data:image/png;base64,...), not [["nested"]].'),
        ({"name": "x.png"}, 'not {"name": "x.png"}.'),
        ("data:image/png,not-base64", "This data: URL holds no base64 picture"),
        ("data:image/png;base64,@@@", "This data: URL holds no base64 picture"),
        ("data:text/plain;base64,aGVsbG8=", "This file is not an image Pillow can read"),
    ]:
        result = chat_with_picture(apps["chatbot"], picture)
        assert result.failed and message in result.message, (picture, result.raw)
    not_a_list = call_api(apps["chatbot"], "chat", [{"text": "hi", "files": "x.png"}])
    assert not_a_list.message == 'The message\'s files must be a list of pictures, not "x.png".'
    assert server.requests_for("chat") == []


def test_a_data_url_is_checked_like_an_upload_and_bounded_before_it_is_decoded(apps, server):
    bomb = picture_data_url(Image.new("1", (10_000, 10_000)))
    heavy = "data:image/png;base64," + "A" * (36 * 2**20)

    assert chat_with_picture(apps["chatbot"], bomb).message == (
        "The image has 10000x10000 pixels, over the limit of 40 megapixels: resize it and try again."
    )
    assert chat_with_picture(apps["chatbot"], heavy).message == "The image is 27 MB; the limit is 25 MB."
    assert server.requests_for("chat") == []


def test_a_fifo_in_the_upload_folder_never_holds_a_chat_reply(apps, server):
    folder = Path(get_upload_folder()) / "probe-chat-fifo"
    folder.mkdir(parents=True, exist_ok=True)
    fifo = folder / "picture.png"
    if not fifo.exists():
        os.mkfifo(fifo)
    results: dict[str, Result] = {}
    hostile = threading.Thread(
        target=lambda: results.update(hostile=chat_with_picture(apps["chatbot"], {"path": str(fifo)}))
    )
    hostile.start()
    assert (
        Client(apps["chatbot"], verbose=False).predict("hello", api_name="/chat")
        == "You said: hello (turn 1)"
    )
    hostile.join(30)
    assert not hostile.is_alive(), "the hostile call never ended"
    assert NOT_UPLOADED in results["hostile"].message


def test_over_mcp_a_chat_picture_comes_as_a_data_url(apps, server):
    url = f"{apps['chatbot'].rstrip('/')}/gradio_api/mcp/"
    picture = picture_data_url(Image.new("RGB", (20, 10), (0, 200, 0)))

    result = asyncio.run(mcp_call(url, "chat", {"message": {"text": "what is this?", "files": [picture]}}))

    assert not result.isError, result.content
    assert result.content[0].text == "You said: what is this? (turn 1, 1 picture)"
    [request] = server.requests_for("chat")
    assert request.json["messages"][-1]["content"][0] == {"type": "image_url", "image_url": {"url": picture}}
