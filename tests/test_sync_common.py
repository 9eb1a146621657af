"""The vendored copies of common/ are current, and the check names every stale file."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.harness import ROOT, SPACES


def run_sync(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / "sync_common.py"), *args], capture_output=True, text=True
    )


def test_committed_copies_are_in_sync():
    result = run_sync(ROOT, "--check")
    assert result.returncode == 0, result.stderr


def test_check_names_every_differing_missing_and_extra_file(tmp_path):
    for folder in ("common", "scripts", "spaces"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "spaces/ner/common/entities.py").write_text("# edited by hand\n")
    (tmp_path / "spaces/chatbot/common/chat.py").unlink()
    (tmp_path / "spaces/game/common/stray.py").write_text("")

    result = run_sync(tmp_path, "--check")

    assert result.returncode == 1
    assert "differs: spaces/ner/common/entities.py" in result.stderr
    assert "missing: spaces/chatbot/common/chat.py" in result.stderr
    assert "not in common/: spaces/game/common/stray.py" in result.stderr

    assert run_sync(tmp_path).returncode == 0
    assert run_sync(tmp_path, "--check").returncode == 0
    assert not (tmp_path / "spaces/game/common/stray.py").exists()
    synced = {path.parent.parent.name for path in (tmp_path / "spaces").glob("*/common/entities.py")}
    assert synced == set(SPACES)
