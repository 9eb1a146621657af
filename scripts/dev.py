"""The two commands of the quick start; each needs only Python 3.10+ on the machine.

    python scripts/dev.py run [serve.py options]   # install into .venv, serve all six apps
    python scripts/dev.py test [pytest options]    # install into .venv, check the copies, run the tests

Dependencies go into `.venv/` beside the repository and are reinstalled only when a requirements
file changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
REQUIREMENTS = {
    "run": ["requirements.txt", "requirements-local.txt"],
    "test": ["requirements-dev.txt", "requirements-local.txt"],
}


def ensure_environment(requirement_files: list[str]) -> None:
    """Create `.venv` if needed and install the requirement files unless already installed."""
    if not PYTHON.exists():
        print(f"Creating {VENV.relative_to(ROOT)}/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in sorted(requirement_files):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{digest.hexdigest()[:16]}"
    if stamp.exists():
        return
    arguments = [arg for name in requirement_files for arg in ("-r", str(ROOT / name))]
    print(f"Installing {', '.join(requirement_files)} ...", flush=True)
    subprocess.run([PYTHON, "-m", "pip", "install", "--disable-pip-version-check", *arguments], check=True)
    stamp.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in REQUIREMENTS:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_environment(REQUIREMENTS[command])
    if command == "run":
        return subprocess.run([PYTHON, ROOT / "scripts" / "serve.py", *rest], cwd=ROOT).returncode
    check = subprocess.run([PYTHON, ROOT / "scripts" / "sync_common.py", "--check"], cwd=ROOT)
    if check.returncode:
        return check.returncode
    return subprocess.run([PYTHON, "-m", "pytest", *rest], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
