"""serve.py: all six apps behind one port, its index page, and a share link that fails gently offline."""

from __future__ import annotations

import socket

import pytest
from fastapi.testclient import TestClient

from scripts import serve
from testing.apps import settings_from
from testing.inference_server import InferenceTestServer, unused_port


@pytest.fixture(scope="module")
def index(inference_server: InferenceTestServer) -> TestClient:
    settings = settings_from({**inference_server.env(), "HF_TOKEN": "hf_test"})
    return TestClient(serve.build_app(settings, mcp_server=False))


def test_the_index_lists_every_app_in_the_visitors_language(index: TestClient):
    english = index.get("/", headers={"Accept-Language": "en-US"}).text
    chinese = index.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text

    for name in ("summarize", "ner", "caption", "imagegen", "game", "chatbot"):
        assert f'href="/{name}/"' in english and f'href="/{name}/"' in chinese
    assert "Six generative-AI apps" in english and "Its models run on an inference service." in english
    assert "六个生成式 AI 应用" in chinese and "模型在推理服务上运行。" in chinese


def test_each_app_is_served_under_its_own_path(index: TestClient):
    for name in ("summarize", "chatbot"):
        assert index.get(f"/{name}/config").json()["components"]


def test_without_internet_a_share_link_is_refused_with_a_note(capsys):
    assert serve.open_share_link(unused_port()) is None
    assert "No share link" in capsys.readouterr().out


# uvicorn ends its own thread with sys.exit(1) when it cannot bind, after logging the OSError.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_busy_port_is_named_with_how_to_choose_another(index: TestClient):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            serve.serve(index.app, "127.0.0.1", port, share=False)

    assert str(stopped.value) == (
        f"The server did not start on 127.0.0.1:{port}. If another program uses port {port}, choose "
        "another with --port or GRADIO_SERVER_PORT."
    )


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("192.0.2.7", "192.0.2.7"),
    ],
)
def test_the_apps_call_themselves_at_a_loopback_url(host: str, address: str):
    assert serve.loopback_address(host) == address


def test_every_mounted_app_calls_its_own_address_for_mcp(inference_server):
    app = serve.build_app(settings_from({**inference_server.env(), "HF_TOKEN": "hf_test"}), mcp_server=True)
    serve.set_local_urls(app, "http://127.0.0.1:7860")
    assert {name: demo.mcp_server_obj.local_url for name, demo in app.state.demos.items()} == {
        "summarize": "http://127.0.0.1:7860/summarize/",
        "ner": "http://127.0.0.1:7860/ner/",
        "caption": "http://127.0.0.1:7860/caption/",
        "imagegen": "http://127.0.0.1:7860/imagegen/",
        "game": "http://127.0.0.1:7860/game/",
        "chatbot": "http://127.0.0.1:7860/chatbot/",
    }
