"""The game of telephone, through gradio_client on both backends.

On the test inference server the whole chain is predictable: a caption names an image's size and
dominant colour (`caption_for`), and a painting's colour follows from its prompt and seed
(`image_color_for`), with the seed each request carried recorded by the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from common.settings import Settings
from common.similarity import text_similarity
from common.tasks.game import verdict
from testing.apps import running_app
from testing.inference_server import (
    DEFAULT_IMAGE_SIZE,
    caption_for,
    image_color_for,
)
from tests.harness import ROOT, app_fixture

if TYPE_CHECKING:
    pass

LION = ROOT / "spaces/game/examples/lion.jpg"
# On the test server the lion is captioned "a 256x256 red picture" and every painting is 512x512, so a
# game ends on one of four captions. What a player reads for each: the score and the verdict.
LAST_CAPTION_RESULTS = {
    "a 512x512 red picture": (81.0, "**81% alike.** The message came through almost intact."),
    "a 512x512 green picture": (59.1, "**59.1% alike.** The gist survived; the details drifted."),
    "a 512x512 blue picture": (60.5, "**60.5% alike.** The gist survived; the details drifted."),
    "a 512x512 gray picture": (60.5, "**60.5% alike.** The gist survived; the details drifted."),
}
LAST_CAPTION_VERDICTS_IN_CHINESE = {
    "a 512x512 red picture": "**相似度 81%。** 信息几乎原封不动地传到了最后。",
    "a 512x512 green picture": "**相似度 59.1%。** 大意还在，细节已经走样。",
    "a 512x512 blue picture": "**相似度 60.5%。** 大意还在，细节已经走样。",
    "a 512x512 gray picture": "**相似度 60.5%。** 大意还在，细节已经走样。",
}
VERDICT_SENTENCES = (
    "The message came through almost intact.",
    "The gist survived; the details drifted.",
    "Lost in translation: the story changed along the way.",
)


def play(client: Client, rounds: object, image: Path = LION) -> tuple[list[dict], float, str]:
    return client.predict(handle_file(str(image)), rounds, api_name="/telephone")


remote_app = app_fixture("game", "remote_settings")


def test_each_round_paints_the_previous_caption_and_captions_the_painting(remote_app, server):
    timeline, similarity, words = play(remote_app, 3)

    captions = [step["caption"] for step in timeline]
    assert captions[0] == "a 256x256 red picture"
    paintings = server.requests_for("imagegen")
    assert len(timeline) == 4 and len(paintings) == 3
    assert [painting.json["inputs"] for painting in paintings] == captions[:-1]
    for painting, step in zip(paintings, timeline[1:], strict=True):
        assert "width" not in painting.json["parameters"], "paintings are made at the model's native size"
        color = image_color_for(painting.json["inputs"], painting.json["parameters"]["seed"])
        expected = caption_for(Image.new("RGB", (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE), color))
        assert step["caption"] == expected
        with Image.open(step["image"]) as image:
            assert image.convert("RGB").getpixel((0, 0)) == color
    assert (similarity, words) == LAST_CAPTION_RESULTS[captions[-1]]


def test_the_timeline_grows_as_each_step_finishes(remote_app, server):
    server.latency = 0.1
    job = remote_app.submit(handle_file(str(LION)), 2, api_name="/telephone")
    timeline, similarity, _ = job.result(timeout=60)

    c = [step["caption"] for step in timeline]
    shown = [[step["caption"] for step in steps] for steps, _, _ in job.outputs()]
    # Each picture appears as soon as it exists, and its caption once it is known.
    assert shown == [[None], c[:1], [*c[:1], None], c[:2], [*c[:2], None], c, c]
    assert [score for _, score, _ in job.outputs()] == [None] * 6 + [similarity]


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        (0, "rounds must be between 1 and 5, not 0"),
        (6, "rounds must be between 1 and 5, not 6"),
        (2.5, "rounds must be a whole number, not 2.5"),
        ("three", 'rounds must be a whole number, not "three".'),
    ],
)
def test_a_number_of_rounds_out_of_range_is_refused_before_any_model_call(
    remote_app, server, rounds, expected
):
    with pytest.raises(AppError, match=expected):
        play(remote_app, rounds)
    assert server.requests == []


def test_a_file_that_is_not_an_image_is_refused(remote_app, server, tmp_path):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"not a picture")

    with pytest.raises(AppError, match="not an image"):
        play(remote_app, 1, fake)
    assert server.requests == []


def test_the_one_round_endpoints_still_serve(remote_app):
    endpoints = remote_app.view_api(return_format="dict", print_info=False)["named_endpoints"]

    assert set(endpoints) == {"/caption", "/generate", "/caption_and_generate", "/telephone"}
    caption, painted = remote_app.predict(handle_file(str(LION)), api_name="/caption_and_generate")
    assert caption == remote_app.predict(handle_file(str(LION)), api_name="/caption")
    assert Path(painted).exists() and Path(remote_app.predict(caption, api_name="/generate")).exists()


def test_the_verdict_and_messages_follow_the_visitors_language(remote_app):
    chinese = Client(remote_app.src, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})

    timeline, _, words = play(chinese, 1)

    assert words == LAST_CAPTION_VERDICTS_IN_CHINESE[timeline[-1]["caption"]]
    with pytest.raises(AppError, match="rounds 必须在 1 到 5 之间"):
        play(chinese, 9)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("A red car on a street.", "on a street, a red car", 100.0),
        ("a red bicycle by the sea", "a red bicycle near the sea", 88.0),
        ("a 256x256 red picture", "a 512x512 green picture", 59.1),
        ("a dog running on the beach", "a cat sleeping on a sofa", 48.0),
        ("a lighthouse", "", 0.0),
    ],
)
def test_similarity_compares_the_words_whatever_their_order_and_case(first, last, expected):
    assert text_similarity(first, last) == expected


@pytest.mark.parametrize(
    ("similarity", "words"),
    [
        (100.0, "**100% alike.** The message came through almost intact."),
        (80.0, "**80% alike.** The message came through almost intact."),
        (79.9, "**79.9% alike.** The gist survived; the details drifted."),
        (50.0, "**50% alike.** The gist survived; the details drifted."),
        (49.9, "**49.9% alike.** Lost in translation: the story changed along the way."),
        (0.0, "**0% alike.** Lost in translation: the story changed along the way."),
    ],
)
def test_the_verdict_names_how_much_survived(similarity, words):
    assert verdict(similarity) == words


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_telephone_on_local_models(local_settings: Settings):
    with running_app("game", local_settings) as client:
        timeline, similarity, words = play(client, 2)

    captions = [step["caption"] for step in timeline]
    assert len(timeline) == 3 and all(isinstance(caption, str) and caption for caption in captions)
    for step in timeline[1:]:
        with Image.open(step["image"]) as painting:
            assert painting.size == (64, 64), "the tiny UNet's native size"
    # Random weights caption at random: the score is whatever it is, but it reads as one of the verdicts.
    assert 0 <= similarity <= 100
    assert any(words == f"**{similarity:g}% alike.** {sentence}" for sentence in VERDICT_SENTENCES), words
