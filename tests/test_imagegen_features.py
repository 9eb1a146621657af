"""Batches, seeds and the session history of the imagegen app, through gradio_client on both backends.

On the test inference server an image's colour is a function of its prompt and seed
(`image_color_for`), so every image of a batch can be checked against the seed it claims.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from PIL import Image

from common.image_history import HISTORY_LENGTH
from common.settings import Settings
from common.tasks.imagegen import MAX_SEED
from testing.apps import running_app
from testing.inference_server import image_color_for
from tests.harness import app_fixture

if TYPE_CHECKING:
    pass

PROMPT = "a lighthouse in a storm"
# prompt, negative_prompt, steps, guidance, width, height: small and few steps, so local runs are quick.
SETTINGS = (PROMPT, "fog", 2, 7.5, 64, 64)


def pixels(path: str) -> bytes:
    with Image.open(path) as image:
        return image.convert("RGB").tobytes()


def color_of(path: str) -> tuple[int, int, int]:
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((0, 0))


def history_of(client: Client) -> list[dict]:
    """The session's history as the page shows it: images captioned with their settings."""
    return client.predict(api_name="/history")


remote_app = app_fixture("imagegen", "remote_settings")


@pytest.fixture
def session(remote_app: Client) -> Client:
    """A client of its own, so that the history it sees is that of a new visitor."""
    return Client(remote_app.src, verbose=False)


def test_a_batch_has_as_many_images_as_asked_with_consecutive_seeds(remote_app, server):
    images, seeds = remote_app.predict(*SETTINGS, 100, 3, api_name="/generate_images")

    assert seeds == [100, 101, 102]
    assert [image["caption"] for image in images] == ["Seed 100", "Seed 101", "Seed 102"]
    assert [color_of(image["image"]) for image in images] == [image_color_for(PROMPT, s) for s in seeds]
    assert all(Path(image["image"]).suffix == ".png" for image in images)
    sent = [request.json["parameters"] for request in server.requests_for("imagegen")]
    assert sorted(parameters["seed"] for parameters in sent) == seeds
    assert all(parameters["negative_prompt"] == "fog" for parameters in sent)


def test_a_random_first_seed_is_returned_and_reproduces_the_batch(remote_app):
    images, seeds = remote_app.predict(*SETTINGS, -1, 2, api_name="/generate_images")
    again, same_seeds = remote_app.predict(*SETTINGS, seeds[0], 2, api_name="/generate_images")

    assert 0 <= seeds[0] <= MAX_SEED and seeds == [seeds[0], seeds[0] + 1] == same_seeds
    assert [pixels(image["image"]) for image in images] == [pixels(image["image"]) for image in again]


def test_seeds_past_the_largest_start_again_from_zero(remote_app):
    _, seeds = remote_app.predict(*SETTINGS, MAX_SEED, 2, api_name="/generate_images")

    assert seeds == [MAX_SEED, 0]


def test_a_remote_batch_is_painted_concurrently(remote_app, server):
    server.latency = 1.0
    started = time.monotonic()
    images, _ = remote_app.predict(*SETTINGS, 7, 4, api_name="/generate_images")

    assert len(images) == 4
    # One after another they would take at least 4 s.
    assert time.monotonic() - started < 3.5, "the four images were painted one after another"


@pytest.mark.parametrize(
    ("num_images", "expected"),
    [
        (0, "num_images must be between 1 and 4, not 0."),
        (5, "num_images must be between 1 and 4, not 5."),
        (1.5, "must be a whole number"),
    ],
)
def test_a_batch_size_out_of_range_is_refused(remote_app, server, num_images, expected):
    with pytest.raises(AppError, match=expected):
        remote_app.predict(*SETTINGS, 1, num_images, api_name="/generate_images")
    assert server.requests_for("imagegen") == []


def test_the_history_lists_each_result_newest_first_with_its_settings_and_seed(session):
    first, _ = session.predict(*SETTINGS, 5, 2, api_name="/generate_into_history")
    latest, _ = session.predict("a red bicycle", "", 3, 7, 128, 64, 40, 1, api_name="/generate_into_history")

    history = history_of(session)

    assert [pixels(entry["image"]) for entry in history] == [
        pixels(image["image"]) for image in latest + first
    ]
    assert [entry["caption"] for entry in history] == [
        "a red bicycle · seed 40 · 3 steps · guidance 7 · 128×64",
        f"{PROMPT} · seed 5 · 2 steps · guidance 7.5 · 64×64 · without: fog",
        f"{PROMPT} · seed 6 · 2 steps · guidance 7.5 · 64×64 · without: fog",
    ]


def test_each_visitor_has_a_history_of_their_own(session, remote_app):
    session.predict(*SETTINGS, 5, 1, api_name="/generate_into_history")
    newcomer = Client(remote_app.src, verbose=False)

    assert len(history_of(session)) == 1
    assert history_of(newcomer) == []


def test_the_history_keeps_the_latest_results_only(session):
    batches = HISTORY_LENGTH // 4 + 1
    for batch in range(batches):
        session.predict(*SETTINGS, 4 * batch, 4, api_name="/generate_into_history")

    seeds = [4 * batch + offset for batch in reversed(range(batches)) for offset in range(4)]
    assert [entry["caption"] for entry in history_of(session)] == [
        f"{PROMPT} · seed {seed} · 2 steps · guidance 7.5 · 64×64 · without: fog"
        for seed in seeds[:HISTORY_LENGTH]
    ]


def test_generate_still_returns_one_image_and_its_seed(remote_app, server):
    path, seed = remote_app.predict(*SETTINGS, 42, api_name="/generate")

    assert seed == 42 and color_of(path) == image_color_for(PROMPT, 42)
    assert len(server.requests_for("imagegen")) == 1
    endpoint = remote_app.view_api(return_format="dict", print_info=False)["named_endpoints"]["/generate"]
    assert [parameter["parameter_name"] for parameter in endpoint["parameters"]] == [
        "prompt",
        "negative_prompt",
        "steps",
        "guidance",
        "width",
        "height",
        "seed",
    ]
    assert [output["component"] for output in endpoint["returns"]] == ["Image", "Number"]


def test_captions_follow_the_visitors_language(remote_app):
    chinese = Client(remote_app.src, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    images, _ = chinese.predict(*SETTINGS, 8, 1, api_name="/generate_into_history")

    assert images[0]["caption"] == "种子 8"
    assert history_of(chinese)[0]["caption"] == (f"{PROMPT} · 种子 8 · 2 步 · 引导 7.5 · 64×64 · 排除：fog")
    with pytest.raises(AppError, match="提示词为空"):
        chinese.predict("", "", 2, 7, 64, 64, 1, 1, api_name="/generate_images")


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_local_batches_reproduce_by_seed_and_fill_the_history(local_settings: Settings):
    with running_app("imagegen", local_settings) as client:
        images, seeds = client.predict(*SETTINGS, 1234, 2, api_name="/generate_into_history")
        again, _ = client.predict(*SETTINGS, 1235, 1, api_name="/generate_into_history")
        single, single_seed = client.predict(*SETTINGS, 1234, api_name="/generate")
        history = history_of(client)

    assert seeds == [1234, 1235] and single_seed == 1234
    shown = [pixels(image["image"]) for image in images]
    assert all(Image.open(image["image"]).size == (64, 64) for image in images)
    assert shown[0] != shown[1], "each image of a batch has a seed of its own"
    assert pixels(again[0]["image"]) == shown[1], "an image of a batch is reproduced from its seed alone"
    assert pixels(single) == shown[0], "/generate paints what the batch painted with the same seed"
    assert [entry["caption"] for entry in history] == [
        f"{PROMPT} · seed {seed} · 2 steps · guidance 7.5 · 64×64 · without: fog"
        for seed in (1235, 1234, 1235)
    ]
