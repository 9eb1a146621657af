"""Deploy space folders to Hugging Face Spaces, one Space repository per folder.

    python scripts/deploy.py summarize ner --owner OWNER [--private] [--hardware FLAVOR]
    python scripts/deploy.py --all [--owner OWNER] [--dry-run]
    python scripts/deploy.py imagegen --hardware zero-a10g     # the models run in the Space, on ZeroGPU

The vendored `common/` copies are synced first, so a Space always runs the root `common/`. Each
Space then holds exactly its folder, less local clutter (`.env` files, caches, Gradio's temp and
flagging folders); `--dry-run` lists those files and touches no network.

Two tokens, from the environment or `.env`, neither ever printed: the deployer's own (`HF_TOKEN` or
`HF_API_KEY`) authenticates the upload and stays on this machine; `HF_SPACE_TOKEN`, a fine-grained
token allowed only to call Inference Providers, becomes each Space's `HF_TOKEN` secret, so what every
visitor, API caller and MCP agent of the Space spends can do nothing else. Without it the secret is
left as it is.

On ZeroGPU hardware (`zero-a10g`) the models run inside the Space: its `requirements.txt` gets the
pins of `requirements-local.txt` (torch, transformers, diffusers, `spaces`) and the Space the
variable `INFERENCE_BACKEND=local`; model calls then run under `@spaces.GPU`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import sync_common  # noqa: E402
from huggingface_hub import HfApi, SpaceHardware  # noqa: E402
from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError  # noqa: E402
from huggingface_hub.utils import (  # noqa: E402
    DEFAULT_IGNORE_PATTERNS,
    HFValidationError,
    filter_repo_objects,
    validate_repo_id,
)

from common.settings import SettingsError, configuration, load_settings  # noqa: E402

# What must never reach a Space: secrets, caches, Gradio's temp and flagging folders. Upload
# patterns are fnmatch patterns on paths relative to the folder, where `*` also matches `/`, so
# each one is given bare (at the top of the folder) and after `*/` (at any depth).
IGNORED = (
    ".env",
    ".env.*",
    "*.pyc",
    "__pycache__/*",
    ".gradio/*",
    "flagged/*",
    ".venv/*",
    ".pytest_cache/*",
    ".ruff_cache/*",
    ".ipynb_checkpoints/*",
    ".DS_Store",
)
# The Hub's own failures (auth included), no token at all, and the Hub out of reach: each fails
# one space, and the others are still worth trying.
HUB_ERRORS = (HfHubHTTPError, LocalTokenNotFoundError, httpx2.TransportError)
SECRET_NAME = "HF_TOKEN"
LOCAL_REQUIREMENTS = ROOT / "requirements-local.txt"
# The hardware whose GPU is lent per call through `@spaces.GPU`: free for the Space, so the models
# run in it rather than on inference providers.
ZERO_GPU = SpaceHardware.ZERO_A10G
SPACE_TOKEN_VARIABLE = "HF_SPACE_TOKEN"
SPACE_TOKEN_HOW_TO = (
    f"To set it, create a fine-grained token at https://huggingface.co/settings/tokens with only "
    f"'Make calls to Inference Providers' allowed, and set {SPACE_TOKEN_VARIABLE} to it."
)


class Hub(Protocol):
    """The part of `HfApi` a deploy uses, so tests can pass a recording fake."""

    def create_repo(
        self, repo_id: str, *, repo_type: str, space_sdk: str, private: bool, exist_ok: bool
    ) -> object: ...

    def add_space_secret(self, repo_id: str, key: str, value: str) -> object: ...

    def request_space_hardware(self, repo_id: str, hardware: SpaceHardware) -> object: ...

    def add_space_variable(self, repo_id: str, key: str, value: str) -> object: ...

    def upload_folder(
        self,
        *,
        repo_id: str,
        folder_path: str | Path,
        repo_type: str,
        ignore_patterns: list[str],
        delete_patterns: list[str],
        commit_message: str,
    ) -> object: ...

    def whoami(self) -> dict: ...


def ignore_patterns() -> list[str]:
    """A new list on every call: `upload_folder` appends its own defaults to the list it is given."""
    return [pattern for name in IGNORED for pattern in (name, f"*/{name}")]


def upload_files(folder: Path) -> list[str]:
    """The paths `upload_folder` sends from `folder`, found the way it finds them, for `--dry-run`."""
    found = sorted(path.relative_to(folder).as_posix() for path in folder.glob("**/*") if path.is_file())
    return list(filter_repo_objects(found, ignore_patterns=[*ignore_patterns(), *DEFAULT_IGNORE_PATTERNS]))


def space_folder(name: str) -> Path:
    return sync_common.SPACES / name


def space_url(repo_id: str) -> str:
    return f"https://huggingface.co/spaces/{repo_id}"


def sync_copies(names: Sequence[str]) -> None:
    """Bring each space's vendored `common/` up to date, so what is uploaded is the root `common/`."""
    for name in names:
        stale = sync_common.differences(space_folder(name))
        if stale:
            sync_common.sync(space_folder(name))
            print(f"synced spaces/{name}/common: {len(stale)} file(s) were out of date")


def describe(error: Exception, *tokens: str | None) -> str:
    """The error on one line and without the tokens: Hub messages span lines and may echo a request."""
    text = f"{type(error).__name__}: {' '.join(str(error).split())}"
    for token in tokens:
        if token:
            text = text.replace(token, "***")
    return text


def deploy_space(
    api: Hub,
    name: str,
    repo_id: str,
    space_token: str | None,
    private: bool,
    hardware: SpaceHardware | None,
) -> None:
    """Create the Space if needed, set it up, then upload.

    The secret, hardware and variables come before the upload so that the build the upload starts
    already has them, instead of failing without them and restarting.
    """
    api.create_repo(repo_id=repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    if space_token:
        api.add_space_secret(repo_id=repo_id, key=SECRET_NAME, value=space_token)
    if hardware:
        api.request_space_hardware(repo_id=repo_id, hardware=hardware)
    if hardware == ZERO_GPU:
        api.add_space_variable(repo_id=repo_id, key="INFERENCE_BACKEND", value="local")
    with upload_source(name, hardware) as folder:
        api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            repo_type="space",
            ignore_patterns=ignore_patterns(),
            # Every remote file not uploaded again is deleted (the Hub keeps `.gitattributes`), so a
            # file removed from the folder does not live on in the Space.
            delete_patterns=["*"],
            commit_message=f"Deploy {name} from gradio-genai-spaces",
        )


@contextmanager
def upload_source(name: str, hardware: SpaceHardware | None) -> Iterator[Path]:
    """The folder to upload: the space's own, or on ZeroGPU a copy whose requirements add the local
    runtime's pins."""
    if hardware != ZERO_GPU:
        yield space_folder(name)
        return
    with tempfile.TemporaryDirectory(prefix=f"{name}-zero-gpu-") as staging:
        folder = Path(staging) / name
        shutil.copytree(
            space_folder(name), folder, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".gradio")
        )
        requirements = folder / "requirements.txt"
        requirements.write_text(requirements.read_text() + local_requirements())
        yield folder


def local_requirements() -> str:
    """The pins of `requirements-local.txt`, as lines to append to a Space's requirements."""
    pins = [line for line in LOCAL_REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#")]
    return "# In-process models on ZeroGPU, from requirements-local.txt\n" + "".join(
        f"{pin}\n" for pin in pins
    )


def deploy(
    names: Sequence[str],
    owner: str,
    api: Hub,
    *,
    token: str | None,
    space_token: str | None,
    private: bool = False,
    hardware: SpaceHardware | None = None,
) -> list[str]:
    """Deploy every named space, going on past failures; returns the repo ids that failed."""
    failed = []
    for name in names:
        repo_id = f"{owner}/{name}"
        try:
            deploy_space(api, name, repo_id, space_token, private, hardware)
        except HUB_ERRORS as error:
            print(f"{repo_id}: not deployed: {describe(error, token, space_token)}", file=sys.stderr)
            failed.append(repo_id)
        else:
            print(space_url(repo_id))
    return failed


def secret_plan(space_token: str | None) -> str:
    if space_token:
        return f"{SECRET_NAME} secret: would be set from {SPACE_TOKEN_VARIABLE}"
    return f"{SECRET_NAME} secret: left as it is ({SPACE_TOKEN_VARIABLE} is not set). {SPACE_TOKEN_HOW_TO}"


def dry_run(
    names: Sequence[str], owner: str, space_token: str | None, hardware: SpaceHardware | None
) -> None:
    """Say what a deploy would do, listing each file it would upload, without touching the network."""
    print(secret_plan(space_token))
    if hardware:
        print(f"hardware: {hardware.value}")
    if hardware == ZERO_GPU:
        print("INFERENCE_BACKEND variable: local; requirements.txt gets the pins of requirements-local.txt")
    for name in names:
        files = upload_files(space_folder(name))
        print(f"{owner}/{name}: {space_url(f'{owner}/{name}')} would hold exactly these {len(files)} files")
        for path in files:
            print(f"  {path}")


def parse_args(argv: Sequence[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    available = [space.name for space in sync_common.space_dirs()]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"spaces to deploy: {', '.join(available)}")
    parser.add_argument("--all", action="store_true", help="deploy every space")
    parser.add_argument("--owner", help="user or organization (default: the token's user)")
    parser.add_argument("--private", action="store_true", help="create new Spaces as private")
    parser.add_argument(
        "--hardware",
        choices=[flavor.value for flavor in SpaceHardware],
        metavar="FLAVOR",
        help="request this hardware: cpu-basic, cpu-upgrade, t4-small, ... (huggingface_hub.SpaceHardware)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be uploaded; no network")
    args = parser.parse_args(argv)

    if bool(args.names) == args.all:
        parser.error("name the spaces to deploy, or pass --all")
    unknown = sorted(set(args.names) - set(available))
    if unknown:
        parser.error(f"no such space: {', '.join(unknown)} (choose from {', '.join(available)})")
    args.names = available if args.all else list(dict.fromkeys(args.names))
    args.hardware = SpaceHardware(args.hardware) if args.hardware else None
    if args.owner:
        try:
            validate_repo_id(f"{args.owner}/{args.names[0]}")
        except HFValidationError as error:
            parser.error(f"--owner {args.owner!r} cannot name a repository: {error}")
    return parser, args


def connect_to_hub(token: str | None) -> Hub:
    """The real client; without a token it falls back to a saved `hf auth login`."""
    return HfApi(token=token)


def main(argv: Sequence[str] | None = None, connect: Callable[[str | None], Hub] = connect_to_hub) -> int:
    """Sync, then list (`--dry-run`) or deploy; `connect` is replaced by a fake in tests."""
    parser, args = parse_args(argv)
    try:
        token = load_settings().token
    except SettingsError as error:
        parser.error(str(error))
    space_token = configuration()(SPACE_TOKEN_VARIABLE)
    if space_token and space_token == token:
        parser.error(
            f"{SPACE_TOKEN_VARIABLE} is your own HF_TOKEN: a Space must not spend, or leak, a token that "
            f"can write to your repositories. {SPACE_TOKEN_HOW_TO}"
        )
    if not args.owner and (args.dry_run or not token):
        parser.error("--owner is required with --dry-run or when no HF_TOKEN is set")

    sync_copies(args.names)
    if args.dry_run:
        dry_run(args.names, args.owner, space_token, args.hardware)
        return 0

    if not space_token:
        print(secret_plan(space_token), file=sys.stderr)
    api = connect(token)
    try:
        owner = args.owner or api.whoami()["name"]
    except HUB_ERRORS as error:
        print(f"No owner: {describe(error, token, space_token)}; pass --owner.", file=sys.stderr)
        return 1

    failed = deploy(
        args.names,
        owner,
        api,
        token=token,
        space_token=space_token,
        private=args.private,
        hardware=args.hardware,
    )
    if failed:
        print(f"Not deployed: {', '.join(failed)} ({len(failed)} of {len(args.names)}).", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
