"""scripts/deploy.py against a recording stand-in for HfApi, always on a copy of the repository.

Deploying syncs the vendored copies of `common/`, so every test runs on a temporary copy of
`common/`, `scripts/` and `spaces/` and never writes to the real tree.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from huggingface_hub import SpaceHardware
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects

from tests.conftest import TEST_TOKEN
from tests.harness import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import deploy
import sync_common

SPACE_TOKEN = "hf_space_inference_only_0123456789"
# Files a developer's machine leaves in a space folder; none of them may reach a Space.
CLUTTER = (
    ".env",
    ".env.local",
    "__pycache__/app.cpython-311.pyc",
    "common/__pycache__/settings.cpython-311.pyc",
    "common/tasks/__pycache__/chat.cpython-311.pyc",
    "examples/stray.pyc",
    ".gradio/flagged/dataset1.csv",
    "flagged/log.csv",
)
# Taken before any deploy runs: HfApi.upload_folder extends the list it is given, so a deploy that
# handed the same list to every upload would send the Hub defaults over and over.
IGNORE_PATTERNS = tuple(deploy.ignore_patterns())
APP_REQUIREMENTS = (ROOT / "spaces/imagegen/requirements.txt").read_text().splitlines()


@dataclass
class RecordingHub:
    """Stands in for `HfApi`: records each call, fails the calls for the repo ids in `failures`,
    and keeps the files each upload would send, as `upload_folder` selects them."""

    failures: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    uploads: dict[str, dict[str, bytes]] = field(default_factory=dict)
    connected_with: list[str | None] = field(default_factory=list)

    def connect(self, token: str | None) -> RecordingHub:
        self.connected_with.append(token)
        return self

    def _call(self, method: str, arguments: dict[str, Any]) -> None:
        self.calls.append((method, arguments))
        if arguments["repo_id"] in self.failures:
            raise self.failures[arguments["repo_id"]]

    def create_repo(self, **arguments: Any) -> None:
        self._call("create_repo", arguments)

    def add_space_secret(self, **arguments: Any) -> None:
        self._call("add_space_secret", arguments)

    def request_space_hardware(self, **arguments: Any) -> None:
        self._call("request_space_hardware", arguments)

    def add_space_variable(self, **arguments: Any) -> None:
        self._call("add_space_variable", arguments)

    def upload_folder(self, **arguments: Any) -> None:
        self._call("upload_folder", {**arguments, "ignore_patterns": list(arguments["ignore_patterns"])})
        patterns = arguments["ignore_patterns"]
        patterns += DEFAULT_IGNORE_PATTERNS  # in place, as HfApi.upload_folder does
        folder = Path(arguments["folder_path"])
        found = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
        self.uploads[arguments["repo_id"]] = {
            path: (folder / path).read_bytes()
            for path in filter_repo_objects(found, ignore_patterns=patterns)
        }

    def whoami(self) -> dict[str, str]:
        return {"name": "token-owner"}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository that the sync and deploy scripts work on, as the working directory."""
    copy_repository(tmp_path)
    monkeypatch.setattr(sync_common, "ROOT", tmp_path)
    monkeypatch.setattr(sync_common, "SOURCE", tmp_path / "common")
    monkeypatch.setattr(sync_common, "SPACES", tmp_path / "spaces")
    monkeypatch.chdir(tmp_path)
    for name in ("HF_TOKEN", "HF_API_KEY", "HF_SPACE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def hub() -> RecordingHub:
    return RecordingHub()


def copy_repository(target: Path) -> None:
    clean = shutil.ignore_patterns("__pycache__", "*.pyc", ".env*", ".gradio", "flagged")
    for folder in ("common", "scripts", "spaces"):
        shutil.copytree(ROOT / folder, target / folder, ignore=clean)


def add_clutter(space: Path) -> None:
    for relative in CLUTTER:
        path = space / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"HF_TOKEN={TEST_TOKEN}\n")


def run(hub: RecordingHub, *argv: str) -> int:
    return deploy.main(list(argv), connect=hub.connect)


def expected_calls(
    repo_id: str, folder: Path, *, secret: str | None = None, hardware: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    calls = [
        (
            "create_repo",
            {
                "repo_id": repo_id,
                "repo_type": "space",
                "space_sdk": "gradio",
                "private": False,
                "exist_ok": True,
            },
        )
    ]
    if secret:
        calls.append(("add_space_secret", {"repo_id": repo_id, "key": "HF_TOKEN", "value": secret}))
    if hardware:
        calls.append(("request_space_hardware", {"repo_id": repo_id, "hardware": hardware}))
    upload = {
        "repo_id": repo_id,
        "folder_path": folder,
        "repo_type": "space",
        "ignore_patterns": list(IGNORE_PATTERNS),
        "delete_patterns": ["*"],
        "commit_message": ANY,
    }
    return [*calls, ("upload_folder", upload)]


def test_two_spaces_make_exactly_the_expected_calls(repo, hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("HF_SPACE_TOKEN", SPACE_TOKEN)
    add_clutter(repo / "spaces/ner")

    assert run(hub, "summarize", "ner", "--owner", "someone") == 0

    assert hub.connected_with == [TEST_TOKEN]
    assert hub.calls == [
        *expected_calls("someone/summarize", repo / "spaces/summarize", secret=SPACE_TOKEN),
        *expected_calls("someone/ner", repo / "spaces/ner", secret=SPACE_TOKEN),
    ]
    assert set(IGNORE_PATTERNS) >= {
        ".env",
        "*/.env",
        ".env.*",
        "*.pyc",
        "*/__pycache__/*",
        ".gradio/*",
    }
    uploaded = hub.uploads["someone/ner"]
    assert sorted(uploaded) == deploy.upload_files(repo / "spaces/ner"), "--dry-run would list other files"
    assert not set(uploaded) & set(CLUTTER)
    assert {"app.py", "README.md", "requirements.txt", "common/settings.py"} <= set(uploaded)
    out, err = capsys.readouterr()
    assert out.splitlines()[-2:] == [
        "https://huggingface.co/spaces/someone/summarize",
        "https://huggingface.co/spaces/someone/ner",
    ]
    assert TEST_TOKEN not in out + err and SPACE_TOKEN not in out + err


@pytest.mark.parametrize("source", ["environment", ".env"])
def test_the_secret_is_the_space_token_never_the_deployers(repo, hub, monkeypatch, capsys, source):
    if source == ".env":
        (repo / ".env").write_text(f"HF_TOKEN={TEST_TOKEN}\nHF_SPACE_TOKEN={SPACE_TOKEN}\n")
    else:
        monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
        monkeypatch.setenv("HF_SPACE_TOKEN", SPACE_TOKEN)

    assert run(hub, "chatbot", "--owner", "someone") == 0

    assert hub.connected_with == [TEST_TOKEN]
    secrets = [arguments for name, arguments in hub.calls if name == "add_space_secret"]
    assert secrets == [{"repo_id": "someone/chatbot", "key": "HF_TOKEN", "value": SPACE_TOKEN}]
    out, err = capsys.readouterr()
    assert TEST_TOKEN not in out + err and SPACE_TOKEN not in out + err


@pytest.mark.parametrize("source", ["HF_TOKEN", "HF_API_KEY"])
def test_with_only_the_deployers_token_the_secret_is_left_as_it_is(repo, hub, monkeypatch, capsys, source):
    monkeypatch.setenv(source, TEST_TOKEN)

    assert run(hub, "chatbot", "--owner", "someone") == 0

    assert hub.calls == expected_calls("someone/chatbot", repo / "spaces/chatbot")
    err = capsys.readouterr().err
    assert "HF_TOKEN secret: left as it is (HF_SPACE_TOKEN is not set)" in err
    assert "'Make calls to Inference Providers'" in err and "set HF_SPACE_TOKEN" in err


def test_the_deployers_own_token_is_refused_as_the_space_token(repo, hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("HF_SPACE_TOKEN", TEST_TOKEN)

    with pytest.raises(SystemExit):
        run(hub, "chatbot", "--owner", "someone")

    assert not hub.connected_with and not hub.calls
    err = capsys.readouterr().err
    assert "HF_SPACE_TOKEN is your own HF_TOKEN" in err and TEST_TOKEN not in err


def test_without_a_token_no_secret_is_set(repo, hub, capsys):
    assert run(hub, "chatbot", "--owner", "someone") == 0

    assert hub.connected_with == [None], "HfApi falls back to a saved login"
    assert hub.calls == expected_calls("someone/chatbot", repo / "spaces/chatbot")
    assert "secret: left as it is" in capsys.readouterr().err


def test_hardware_is_requested_before_the_upload(repo, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("HF_SPACE_TOKEN", SPACE_TOKEN)

    assert run(hub, "imagegen", "--owner", "someone", "--hardware", "t4-small") == 0

    assert hub.calls == expected_calls(
        "someone/imagegen", repo / "spaces/imagegen", secret=SPACE_TOKEN, hardware="t4-small"
    )
    hardware = hub.calls[2][1]["hardware"]
    assert isinstance(hardware, SpaceHardware)


def test_on_zero_gpu_the_models_run_in_the_space_under_spaces_gpu(repo, hub):
    assert run(hub, "imagegen", "--owner", "someone", "--hardware", "zero-a10g") == 0

    assert [method for method, _ in hub.calls] == [
        "create_repo",
        "request_space_hardware",
        "add_space_variable",
        "upload_folder",
    ]
    assert hub.calls[2][1] == {"repo_id": "someone/imagegen", "key": "INFERENCE_BACKEND", "value": "local"}
    uploaded = hub.uploads["someone/imagegen"]
    requirements = uploaded["requirements.txt"].decode().splitlines()
    assert requirements[: len(APP_REQUIREMENTS)] == APP_REQUIREMENTS, "the Space's own pins first"
    assert {"torch==2.13.0", "diffusers==0.42.1", "spaces==0.51.3"} <= set(requirements)
    assert uploaded["app.py"] == (repo / "spaces/imagegen/app.py").read_bytes()
    assert (repo / "spaces/imagegen/requirements.txt").read_text().splitlines() == APP_REQUIREMENTS
