"""Pictures in the conversation: attached to a message, sent to the model as OpenAI `image_url` parts
(data URLs), kept in the history for later questions, counted as a fixed number of tokens, and
refused clearly where the model reads text only.

Through gradio_client and plain REST on the remote backend: the test inference server records the
pictures each request carried, so the tests read what reached the model, byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from common.backends.remote import RemoteChat, estimate_tokens
from common.chat import PICTURE_TOKENS
from common.chat_models import PICTURE_MODELS
from testing.apps import running_app
from testing.chatbot_page import ChatbotPage
from testing.inference_server import InferenceTestServer, ReceivedPicture, received_pictures
from tests.conftest import TEST_TOKEN
from tests.harness import app_fixture, hub_settings
from tests.raw_api import call_api

SYSTEM = "Be brief."
TEXT_MODEL = "Qwen/Qwen2.5-7B-Instruct"
VISION_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"

chatbot_app = app_fixture("chatbot", "remote_settings")


@pytest.fixture
def chatbot(chatbot_app: Client, server: InferenceTestServer) -> Client:
    chatbot_app.reset_session()
    return chatbot_app


def png(path: Path, size: tuple[int, int] = (24, 16), color: tuple[int, int, int] = (200, 10, 10)) -> Path:
    Image.new("RGB", size, color).save(path, format="PNG")
    return path


def data_url(path: Path, mime_type: str = "image/png") -> str:
    return f"data:{mime_type};base64,{base64.b64encode(path.read_bytes()).decode()}"


def sent(server: InferenceTestServer) -> list[dict[str, Any]]:
    """The messages of the last chat request the server received."""
    return server.requests_for("chat")[-1].json["messages"]


def pictures_sent(server: InferenceTestServer) -> list[ReceivedPicture]:
    return received_pictures(sent(server))


# The picture reaches the model


def test_an_attached_picture_reaches_the_model_as_a_data_url_of_its_own_bytes(chatbot, server, tmp_path):
    picture = png(tmp_path / "red.png")

    reply = chatbot.predict(
        {"text": "what is this?", "files": [handle_file(str(picture))]}, SYSTEM, 0.7, 64, api_name="/chat"
    )

    assert reply == "You said: what is this? (turn 1, 1 picture)"
    assert sent(server)[-1] == {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": data_url(picture)}},
            {"type": "text", "text": "what is this?"},
        ],
    }
    assert pictures_sent(server) == [ReceivedPicture("image/png", picture.read_bytes())]


def test_a_data_url_over_rest_is_a_picture_too(chatbot, server, tmp_path):
    picture = png(tmp_path / "green.png", color=(0, 200, 0))

    result = call_api(chatbot.src, "chat", [{"text": "and this?", "files": [data_url(picture)]}])

    assert result.output == ["You said: and this? (turn 1, 1 picture)"], result.raw
    [received] = pictures_sent(server)
    assert received.decode().getpixel((0, 0)) == (0, 200, 0)


def test_a_picture_alone_is_a_message_and_several_go_in_order(chatbot, server, tmp_path):
    first, second = png(tmp_path / "a.png", (8, 8)), png(tmp_path / "b.png", (9, 9))

    reply = chatbot.predict(
        {"text": "", "files": [handle_file(str(first)), handle_file(str(second))]}, api_name="/chat"
    )

    assert reply == "You said nothing (turn 1, 2 pictures)"
    assert [picture.decode().size for picture in pictures_sent(server)] == [(8, 8), (9, 9)]
    assert [part["type"] for part in sent(server)[-1]["content"]] == ["image_url", "image_url"]


def test_four_values_get_what_they_got_before_and_a_message_without_files_is_text(chatbot, server):
    assert chatbot.predict("hello", SYSTEM, 0.7, 64, api_name="/chat") == "You said: hello (turn 1)"
    assert chatbot.predict({"text": "hi", "files": []}, SYSTEM, api_name="/chat") == "You said: hi (turn 1)"
    assert [request.json["messages"] for request in server.requests_for("chat")] == [
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hello"}],
        [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "hi"}],
    ]


def test_a_large_photo_is_sent_scaled_to_about_a_megapixel(chatbot, server, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (3000, 2000), (10, 20, 200)).save(photo, format="JPEG")

    chatbot.predict({"text": "where?", "files": [handle_file(str(photo))]}, api_name="/chat")

    [received] = pictures_sent(server)
    assert received.mime_type == "image/jpeg"
    assert received.decode().size == (1226, 817)  # 1,001,642 pixels: PICTURE_PIXELS is 1,003,520


def test_a_format_not_every_server_reads_is_sent_as_png(chatbot, server, tmp_path):
    bitmap = tmp_path / "scan.bmp"
    Image.new("RGB", (30, 20), (1, 2, 3)).save(bitmap, format="BMP")

    chatbot.predict({"text": "read it", "files": [handle_file(str(bitmap))]}, api_name="/chat")

    [received] = pictures_sent(server)
    assert received.mime_type == "image/png"
    assert (received.decode().size, received.decode().getpixel((5, 5))) == ((30, 20), (1, 2, 3))


# Pictures stay in the conversation


def test_a_later_question_about_the_same_picture_still_shows_it(chatbot, server, tmp_path):
    picture = png(tmp_path / "red.png")
    first = chatbot.predict({"text": "what is this?", "files": [handle_file(str(picture))]}, api_name="/chat")
    history = [
        {
            "role": "user",
            "content": [
                {"type": "file", "file": handle_file(str(picture))},
                {"type": "text", "text": "what is this?"},
            ],
        },
        {"role": "assistant", "content": first},
    ]

    reply = chatbot.predict("and its colour?", history=history, api_name="/chat")

    assert reply == "You said: and its colour? (turn 2, 1 picture)"
    assert [message["role"] for message in sent(server)] == ["system", "user", "assistant", "user"]
    assert pictures_sent(server) == [ReceivedPicture("image/png", picture.read_bytes())]
    assert sent(server)[-1] == {"role": "user", "content": "and its colour?"}


def test_history_may_carry_openai_image_parts_with_data_urls(chatbot, server, tmp_path):
    picture = png(tmp_path / "red.png")
    history = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": data_url(picture)}}],
        },
        {"role": "assistant", "content": "A red picture."},
    ]

    reply = chatbot.predict("really?", history=history, api_name="/chat")

    assert reply == "You said: really? (turn 2, 1 picture)"
    assert sent(server)[1] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": data_url(picture)}}],
    }


def test_the_page_sends_its_pictures_retries_them_and_keeps_them_for_the_next_turn(chatbot, server, tmp_path):
    picture = png(tmp_path / "red.png")
    # The page's history names the server's files, which it sends back as they are.
    page = ChatbotPage(Client(chatbot.src, verbose=False, download_files=False))

    page.send("what is this?", [handle_file(str(picture))])
    page.fire(page.chatbot, "retry")
    page.send("and now?")

    first, retried, follow_up = (request.json["messages"] for request in server.requests_for("chat"))
    assert retried == first
    assert received_pictures(first) == [ReceivedPicture("image/png", picture.read_bytes())]
    assert received_pictures(follow_up) == received_pictures(first)
    assert follow_up[-1] == {"role": "user", "content": "and now?"}
    assert page.conversation[-1] == ("assistant", "You said: and now? (turn 2, 1 picture)")

    page.fire(page.chatbot, "undo")

    assert page.values[page.message_box] == {"text": "and now?", "files": []}
    page.fire(page.chatbot, "undo")
    undone = page.values[page.message_box]
    assert undone["text"] == "what is this?" and [Path(file["path"]).name for file in undone["files"]] == [
        "red.png"
    ]


# Counted as a fixed number of tokens


def test_a_picture_counts_as_a_fixed_number_of_tokens_never_its_data(remote_settings):
    chat = RemoteChat(remote_settings.chat, TEST_TOKEN)
    small = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 100}}
    large = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10_000_000}}

    def count(picture: dict[str, Any]) -> int:
        text = {"type": "text", "text": "what is this?"}
        return asyncio.run(chat.count_tokens([{"role": "user", "content": [picture, text]}]))

    assert count(small) == count(large) == PICTURE_TOKENS + estimate_tokens("what is this?") + 4 == 1291


# Bounds and refusals


def test_more_than_four_pictures_in_a_message_are_refused_before_the_model(chatbot, server, tmp_path):
    picture = data_url(png(tmp_path / "red.png"))

    with pytest.raises(AppError) as refused:
        chatbot.predict({"text": "look", "files": [picture] * 5}, api_name="/chat")

    assert str(refused.value) == "A message takes at most 4 pictures; this one has 5."
    assert server.requests_for("chat") == []


def test_more_than_eight_pictures_in_a_conversation_are_refused_before_the_model(chatbot, server, tmp_path):
    picture = data_url(png(tmp_path / "red.png"))
    turn = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": picture}}] * 4},
        {"role": "assistant", "content": "Four red pictures."},
    ]

    with pytest.raises(AppError) as refused:
        chatbot.predict({"text": "one more", "files": [picture]}, history=turn * 2, api_name="/chat")

    assert str(refused.value) == (
        "This conversation holds 9 pictures; a model is sent at most 8. Start a new conversation "
        "(over the API: leave the older pictures out of history)."
    )
    assert server.requests_for("chat") == []


@pytest.fixture
def routed_chatbot(routed_to_test_server: InferenceTestServer) -> Any:
    """The chatbot through Hugging Face's routing, where the app knows which models see pictures."""
    with running_app("chatbot", hub_settings(routed_to_test_server)) as connected:
        yield connected


def test_a_text_only_model_is_never_sent_a_picture_and_names_those_that_see(
    routed_chatbot, routed_to_test_server, tmp_path
):
    picture = data_url(png(tmp_path / "red.png"))

    with pytest.raises(AppError) as refused:
        routed_chatbot.predict({"text": "what is this?", "files": [picture]}, api_name="/chat")
    chinese = Client(routed_chatbot.src, verbose=False, headers={"Accept-Language": "zh-CN"})
    with pytest.raises(AppError) as in_chinese:
        chinese.predict({"text": "这是什么？", "files": [picture]}, api_name="/chat")

    assert str(refused.value) == (
        f"{TEXT_MODEL} reads text only: it cannot see pictures. Pick a model that sees them "
        f"({VISION_MODEL}), or send the message without pictures."
    )
    assert str(in_chinese.value) == (
        f"{TEXT_MODEL} 只能读文字，看不到图片。请选择能看图的模型（{VISION_MODEL}），或去掉图片再发送。"
    )
    assert routed_to_test_server.requests_for("chat") == []


def test_the_vision_model_is_sent_the_picture(routed_chatbot, routed_to_test_server, tmp_path):
    picture = png(tmp_path / "red.png")

    reply = routed_chatbot.predict(
        {"text": "what is this?", "files": [handle_file(str(picture))]}, model=VISION_MODEL, api_name="/chat"
    )

    assert reply == "You said: what is this? (turn 1, 1 picture)"
    [request] = routed_to_test_server.requests_for("chat")
    assert request.json["model"] == VISION_MODEL
    assert received_pictures(request.json["messages"]) == [ReceivedPicture("image/png", picture.read_bytes())]
    assert VISION_MODEL in PICTURE_MODELS


def test_a_text_only_model_carries_on_without_the_earlier_pictures(
    routed_chatbot, routed_to_test_server, tmp_path
):
    picture = data_url(png(tmp_path / "red.png"))
    history = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": picture}}, "what is it?"]},
        {"role": "assistant", "content": "A red picture."},
    ]

    job = routed_chatbot.submit("thanks", history=history, api_name="/chat")
    reply = job.result(timeout=30)

    assert reply == "You said: thanks (turn 2)"
    assert routed_to_test_server.requests_for("chat")[-1].json["messages"][1:] == [
        {"role": "user", "content": "what is it?"},
        {"role": "assistant", "content": "A red picture."},
        {"role": "user", "content": "thanks"},
    ]


def test_an_endpoint_that_refuses_pictures_is_shown_in_its_own_words(chatbot, server, tmp_path):
    server.refuse_pictures = True

    with pytest.raises(AppError) as refused:
        chatbot.predict(
            {"text": "what is this?", "files": [data_url(png(tmp_path / "red.png"))]}, api_name="/chat"
        )

    assert str(refused.value) == (
        f"the chat endpoint refused the pictures (HTTP 400: {TEXT_MODEL} is not a multimodal model). "
        "Its model may read text only: send the message without pictures."
    )
    assert chatbot.predict("hello", api_name="/chat") == "You said: hello (turn 1)", "text still works"


@pytest.mark.local
@pytest.mark.usefixtures("hub_offline")
def test_locally_the_model_reads_text_only_and_says_so(local_settings, tmp_path):
    with running_app("chatbot", local_settings) as local, pytest.raises(AppError) as refused:
        local.predict(
            {"text": "what is this?", "files": [data_url(png(tmp_path / "red.png"))]}, api_name="/chat"
        )

    assert str(refused.value) == (
        "The model runs inside this app, and reads text only: it cannot see pictures. "
        "Send the message without them."
    )
