"""Local models without the Hub: the apps say within seconds that a model is not downloaded and the
Hub cannot be reached, and how to run anyway; a model downloaded before runs from the cache; the
serve-all index says per app whether its model is ready, will download, or cannot be had."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub
import pytest
from gradio_client.exceptions import AppError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from common.backends import hub_access, local
from common.backends.model_worker import ModelCache
from scripts import serve
from scripts.serving import serving
from testing.apps import running_app, settings_from
from testing.inference_server import unused_port
from testing.tiny_models import TinyModels
from tests.harness import ROOT

pytestmark = pytest.mark.local

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
# What the Hub lists for the repositories the index asks about: only weights from_pretrained picks count.
HUB_FILES = {
    "sshleifer/distilbart-cnn-12-6": {
        "config.json": 1_621,
        "model.safetensors": 1_222_317_369,
        "pytorch_model.bin": 1_222_365_169,
        "rust_model.ot": 1_222_644_087,
    },
    "stable-diffusion-v1-5/stable-diffusion-v1-5": {
        "model_index.json": 541,
        "v1-5-pruned.safetensors": 7_703_324_286,
        "unet/diffusion_pytorch_model.safetensors": 3_438_167_536,
        "unet/diffusion_pytorch_model.fp16.safetensors": 1_719_125_304,
        "vae/diffusion_pytorch_model.safetensors": 334_643_276,
        "text_encoder/model.safetensors": 492_265_168,
        "safety_checker/model.safetensors": 1_215_981_830,
        "safety_checker/pytorch_model.bin": 1_216_064_769,
    },
}


@pytest.fixture(autouse=True)
def fresh_hub_answers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test asks the Hub anew, with an empty cache of its own, and loads its models anew."""
    monkeypatch.setattr(hub_access, "HUB", hub_access._HubAnswers())
    monkeypatch.setattr(local, "MODELS", ModelCache())
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))


@pytest.fixture
def hub_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Hub's address points at a port nothing listens on, as on a machine without internet."""
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{unused_port()}")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A stand-in for the Hub's model API, listing the files of `HUB_FILES`."""

    async def model_info(request: Request) -> Response:
        repo = f"{request.path_params['owner']}/{request.path_params['name']}"
        if repo not in HUB_FILES:
            return JSONResponse({"error": "Repository not found"}, status_code=404)
        siblings = [{"rfilename": name, "size": size} for name, size in HUB_FILES[repo].items()]
        return JSONResponse({"id": repo, "siblings": siblings})

    app = Starlette(
        routes=[
            Route("/", lambda request: Response("Hub"), methods=["GET", "HEAD"]),
            Route("/api/models/{owner}/{name}", model_info),
        ]
    )
    with serving(app) as served:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", served.url)
        yield served.url


def cache_a_download(repo: str, files: Path) -> None:
    """Lay `files` out in the Hub's cache as a download of `repo` leaves them."""
    folder = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--{repo.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(files, folder / "snapshots" / commit)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)


def summary_error(settings_environ: dict[str, str]) -> str:
    settings = settings_from({"INFERENCE_BACKEND": "local", **settings_environ})
    with running_app("summarize", settings) as client, pytest.raises(AppError) as caught:
        client.predict(EIFFEL, api_name="/summarize")
    return str(caught.value)


@pytest.mark.usefixtures("hub_unreachable")
def test_without_the_hub_a_model_not_downloaded_is_named_with_the_ways_to_run():
    message = summary_error({"SUMMARY_MODEL": "sshleifer/distilbart-cnn-12-6"})

    hub = huggingface_hub.constants.ENDPOINT
    assert message == (
        "The local model sshleifer/distilbart-cnn-12-6 cannot run: it is not downloaded, and the Hugging "
        f"Face Hub ({hub}) cannot be reached from this machine. To run it offline, download it where "
        "there is internet, then set HF_HUB_OFFLINE=1 and point SUMMARY_MODEL at its directory; or run "
        "the task remotely with HF_TOKEN or an HF_API_SUMMARY_BASE URL."
    )


@pytest.mark.usefixtures("hub_unreachable")
def test_without_the_hub_imagegen_names_the_missing_download_not_the_model_id():
    settings = settings_from({"INFERENCE_BACKEND": "local"})
    with running_app("imagegen", settings) as client, pytest.raises(AppError) as caught:
        client.predict("a lighthouse", api_name="/generate")

    hub = huggingface_hub.constants.ENDPOINT
    assert str(caught.value) == (
        "The local model stable-diffusion-v1-5/stable-diffusion-v1-5 cannot run: it is not downloaded, and "
        f"the Hugging Face Hub ({hub}) cannot be reached from this machine. To run it offline, download "
        "it where there is internet, then set HF_HUB_OFFLINE=1 and point IMAGEGEN_MODEL at its directory; "
        "or run the task remotely with HF_TOKEN or an HF_API_TTI_BASE URL."
    )


@pytest.mark.usefixtures("hub_offline")
def test_offline_mode_names_what_is_missing_and_how_to_run():
    message = summary_error({"SUMMARY_MODEL": "sshleifer/distilbart-cnn-12-6"})

    assert message == (
        "The local model sshleifer/distilbart-cnn-12-6 cannot run: it is not downloaded, and "
        "HF_HUB_OFFLINE=1 forbids downloading it. Point SUMMARY_MODEL at a directory that holds the "
        "model, download it while online, or run the task remotely with HF_TOKEN or an "
        "HF_API_SUMMARY_BASE URL."
    )


@pytest.mark.usefixtures("hub_unreachable")
def test_without_the_hub_a_model_downloaded_before_runs_from_the_cache(tiny_models: TinyModels):
    cache_a_download("sshleifer/distilbart-cnn-12-6", tiny_models.summarize)
    settings = settings_from({"INFERENCE_BACKEND": "local", "SUMMARY_MODEL": "sshleifer/distilbart-cnn-12-6"})

    with running_app("summarize", settings) as client:
        summary = client.predict(EIFFEL, 2, 12, api_name="/summarize")

    assert isinstance(summary, str) and summary.strip()


@pytest.mark.usefixtures("hub_unreachable")
def test_a_model_directory_that_does_not_exist_is_named_as_such(tmp_path: Path):
    message = summary_error({"SUMMARY_MODEL": str(tmp_path / "distilbart")})

    assert message == (
        f"The local model {tmp_path / 'distilbart'} cannot run: there is no such directory. Point "
        "SUMMARY_MODEL at a directory that holds the model, or at a model id on the Hub."
    )


def test_the_index_says_per_app_whether_its_model_is_ready_or_downloads_on_first_use(
    tiny_models: TinyModels, hub: str
):
    settings = settings_from(
        {
            "INFERENCE_BACKEND": "local",
            "NER_MODEL": str(tiny_models.ner),
            "CAPTION_MODEL": str(tiny_models.caption),
            "CHAT_MODEL": str(tiny_models.chat),
        }
    )
    index = TestClient(serve.build_app(settings, mcp_server=False))

    english = index.get("/", headers={"Accept-Language": "en"}).text
    chinese = index.get("/", headers={"Accept-Language": "zh-CN"}).text

    assert index_rows(english) == {
        "summarize": "Its models run on this server: downloaded on first use (1.2 GB).",
        "ner": "Its models run on this server: ready.",
        "caption": "Its models run on this server: ready.",
        "imagegen": "Its models run on this server: downloaded on first use (5.5 GB).",
        "game": "Its models run on this server: downloaded on first use (5.5 GB).",
        "chatbot": "Its models run on this server: ready.",
    }
    assert index_rows(chinese)["summarize"] == "模型在本服务器上运行：首次使用时下载（1.2 GB）。"


@pytest.mark.usefixtures("hub_unreachable")
def test_without_the_hub_the_index_says_which_models_cannot_be_had(tiny_models: TinyModels):
    settings = settings_from({"INFERENCE_BACKEND": "local", "NER_MODEL": str(tiny_models.ner)})
    index = TestClient(serve.build_app(settings, mcp_server=False))

    rows = index_rows(index.get("/", headers={"Accept-Language": "en"}).text)

    assert rows["ner"] == "Its models run on this server: ready."
    assert (
        rows["summarize"] == "Its models run on this server: not downloaded, and the Hub cannot be reached."
    )


def index_rows(page: str) -> dict[str, str]:
    """Each app's status line on the index page, by app."""
    return dict(re.findall(r'href="/(\w+)/".*?<p class=\'where\'>(.*?)</p>', page))
