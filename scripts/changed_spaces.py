"""Name the spaces a change touches: changed paths in, space names out, ready for deploy.py.

    git diff --name-only BEFORE AFTER | python scripts/changed_spaces.py
    python scripts/changed_spaces.py common/settings.py spaces/ner/app.py

A change under `common/` touches every space, since each deploys its own copy; a change under
`spaces/<name>/` touches that space; anything else touches none. The names are printed on one line,
separated by spaces, in the order of `spaces/` (an empty line when none is touched).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

import sync_common


def changed_spaces(paths: Iterable[str], spaces: Sequence[str]) -> list[str]:
    """The spaces among `spaces` whose deployed folder differs after a change to `paths`."""
    touched = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        if parts[:1] == ("common",):
            return list(spaces)
        if len(parts) > 2 and parts[0] == "spaces":
            touched.add(parts[1])
    return [space for space in spaces if space in touched]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", help="changed paths, relative to the repository (default: stdin)")
    args = parser.parse_args(argv)
    paths = args.paths or [line.strip() for line in sys.stdin if line.strip()]
    print(" ".join(changed_spaces(paths, [space.name for space in sync_common.space_dirs()])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
