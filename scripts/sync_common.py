"""Copy `common/` into every space folder, or check that the copies are current.

Each `spaces/<name>/` must deploy to Hugging Face Spaces as it stands, so it carries its own copy of
the shared package. The copies are written only by this script:

    python scripts/sync_common.py          # write the copies
    python scripts/sync_common.py --check  # exit 1 and name every file that differs or is missing
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "common"
SPACES = ROOT / "spaces"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def space_dirs() -> list[Path]:
    """Every space: a folder under `spaces/` with an `app.py`."""
    return sorted(path.parent for path in SPACES.glob("*/app.py"))


def shared_files(folder: Path) -> set[Path]:
    """Paths of the package's files, relative to `folder`, ignoring caches."""
    return {
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def differences(space: Path) -> list[str]:
    """What is wrong with one space's copy, one line per file."""
    copy = space / "common"
    expected, present = shared_files(SOURCE), shared_files(copy) if copy.is_dir() else set()
    shown = copy.relative_to(ROOT)
    problems = [f"missing: {shown / name}" for name in sorted(expected - present)]
    problems += [f"not in common/: {shown / name}" for name in sorted(present - expected)]
    problems += [
        f"differs: {shown / name}"
        for name in sorted(expected & present)
        if not filecmp.cmp(SOURCE / name, copy / name, shallow=False)
    ]
    return problems


def sync(space: Path) -> None:
    copy = space / "common"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(SOURCE, copy, ignore=IGNORED)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report copies that are out of date")
    args = parser.parse_args(argv)

    if args.check:
        problems = [line for space in space_dirs() for line in differences(space)]
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("Run `python scripts/sync_common.py` to update the copies.", file=sys.stderr)
            return 1
        print(f"common/ is in sync in {len(space_dirs())} spaces.")
        return 0

    for space in space_dirs():
        sync(space)
        print(f"synced {space.relative_to(ROOT)}/common")
    return 0


if __name__ == "__main__":
    sys.exit(main())
