"""What a person sees on the six pages, in headless Chromium: a chat that keeps working after an error,
messages for visitors (operators' hints only on this machine), text and buttons that read at WCAG AA
contrast, keyboard submit on every text app, a phone's first screen, and the pages in Chinese.

Served by serve-all against the test inference server, with the browser fixtures of conftest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from testing.browser import (
    ACTION_TIMEOUT,
    OFF_MACHINE,
    PAGE_LOAD_TIMEOUT,
    RESULT_TIMEOUT,
    ROOT,
    VIEWPORT,
    expect_image_of_size,
    image_in,
    open_app,
    refuse_off_machine,
    screenshot,
    upload,
)
from testing.inference_server import DEFAULT_IMAGE_SIZE, InferenceTestServer, summary_for

pytestmark = pytest.mark.browser

EIFFEL = (ROOT / "spaces/summarize/examples/eiffel_tower.txt").read_text().strip()
LION = ROOT / "spaces/caption/examples/lion.jpg"
TOWER = ROOT / "spaces/game/examples/tower.jpg"

PHONE = {"width": 390, "height": 844}
# What a reverse proxy or a share link's tunnel adds to a request it forwards: the visitor is elsewhere.
FORWARDED = {"X-Forwarded-For": "203.0.113.7"}
CHAT_EXAMPLE = "Has math been invented or discovered?"
RATE_LIMITED = (
    "the chat endpoint is rate-limiting requests (HTTP 429: Rate limit reached. You reached free usage limit "
    "(reset hourly).). Wait a minute and try again"
)
OPERATOR_RATE_LIMIT = (
    "; a Hugging Face token (HF_TOKEN, or signing in) raises the limit, and a dedicated endpoint removes it."
)
# WCAG 2.1 AA for normal text.
AA_CONTRAST = 4.5

CONTRAST_JS = """element => {
    const rgb = (colour) => colour.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = ([r, g, b]) => {
        const linear = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    let behind = element;
    while (behind && /rgba\\(.*, 0\\)$|transparent/.test(getComputedStyle(behind).backgroundColor)) {
        behind = behind.parentElement;
    }
    const fore = getComputedStyle(element).color;
    const back = behind ? getComputedStyle(behind).backgroundColor : "rgb(255, 255, 255)";
    const [light, dark] = [luminance(rgb(fore)), luminance(rgb(back))].sort((a, b) => b - a);
    return {fore, back, ratio: Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100};
}"""


def new_page(browser: Browser, apps_url: str, **options: object) -> Iterator[Page]:
    context = browser.new_context(base_url=apps_url, **options)
    context.set_default_timeout(ACTION_TIMEOUT)
    context.set_default_navigation_timeout(PAGE_LOAD_TIMEOUT)
    context.route(OFF_MACHINE, refuse_off_machine)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser, apps_url: str, server: InferenceTestServer) -> Iterator[Page]:
    """A phone: 390 by 844 CSS pixels, touch, in English."""
    yield from new_page(browser, apps_url, viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")


@pytest.fixture
def chinese(browser: Browser, apps_url: str, server: InferenceTestServer) -> Iterator[Page]:
    """A desktop browser set to Simplified Chinese."""
    yield from new_page(browser, apps_url, viewport=VIEWPORT, locale="zh-CN")


@pytest.fixture
def visitor(browser: Browser, apps_url: str, server: InferenceTestServer) -> Iterator[Page]:
    """A visitor from elsewhere, reaching the apps through a proxy (as on a share link)."""
    yield from new_page(browser, apps_url, viewport=VIEWPORT, locale="en-US", extra_http_headers=FORWARDED)


class Chat:
    """The chatbot page, by what a person sees on it."""

    def __init__(self, page: Page, message: str = "Message", title: str = "Chatbot") -> None:
        self.page = page
        open_app(page, "chatbot", title)
        # A refused message's reason joins the box's name ("Message Type a message or attach a
        # picture first.").
        self.message_box = page.get_by_role("textbox", name=re.compile(f"^{message}"))
        self.conversation = page.get_by_role("log", name="chatbot conversation")
        self.questions = self.conversation.get_by_test_id("user")
        self.replies = self.conversation.get_by_test_id("bot")

    def expect_ready(self, value: str = "", examples: bool = True) -> None:
        """The message box takes a message again; an empty conversation offers its examples."""
        expect(self.message_box).to_be_editable(timeout=RESULT_TIMEOUT)
        expect(self.message_box).to_have_value(value)
        expect(self.message_box).to_have_attribute("placeholder", "Type a message and press Enter")
        expect(self.page.get_by_test_id("stop-button")).to_have_count(0)
        expect(self.conversation.get_by_text("Error", exact=True)).to_have_count(0)
        expect(self.conversation.get_by_role("button", name=CHAT_EXAMPLE)).to_have_count(int(examples))


def contrast(element: Locator) -> dict[str, object]:
    return element.evaluate(CONTRAST_JS)


def toast(page: Page) -> Locator:
    """The message of the toast on screen."""
    return page.get_by_test_id("toast-text")


def send_button(page: Page) -> Locator:
    # Gradio gives the message box's send button no name; it is the box's only button.
    return page.locator("button.submit-button")


# 1. The chatbot keeps working after any error.


def test_enter_on_an_empty_message_box_leaves_the_chat_ready(page: Page):
    chat = Chat(page)
    expect(send_button(page)).to_be_disabled()

    chat.message_box.press("Enter")

    expect(page.get_by_text("Type a message or attach a picture first.")).to_be_visible()
    chat.expect_ready()
    expect(chat.questions).to_have_count(0)
    chat.message_box.fill("hello")
    expect(send_button(page)).to_be_enabled()
    send_button(page).click()
    expect(chat.replies).to_have_text(["You said: hello (turn 1)"], timeout=RESULT_TIMEOUT)
    expect(send_button(page)).to_be_disabled()


def test_a_rate_limited_message_gets_a_note_and_retry_answers_it(visitor: Page, server: InferenceTestServer):
    chat = Chat(visitor)
    server.inject("rate_limit", "chat")
    chat.message_box.fill("hello")
    chat.message_box.press("Enter")

    expect(chat.replies).to_have_text([f"⚠️ No reply {RATE_LIMITED}."], timeout=RESULT_TIMEOUT)
    expect(chat.questions).to_have_text(["hello"])
    chat.expect_ready(examples=False)
    screenshot(visitor, "chatbot_error")

    chat.conversation.get_by_role("button", name="Retry", exact=True).click()

    expect(chat.replies).to_have_text(["You said: hello (turn 1)"], timeout=RESULT_TIMEOUT)
    expect(chat.questions).to_have_text(["hello"])
    chat.expect_ready(examples=False)


def test_the_next_message_after_a_failed_one_is_answered_without_it(page: Page, server: InferenceTestServer):
    chat = Chat(page)
    server.inject("server_error", "chat", times=2)
    chat.message_box.fill("first")
    chat.message_box.press("Enter")
    expect(chat.replies.first).to_contain_text("⚠️ No reply", timeout=RESULT_TIMEOUT)
    chat.expect_ready(examples=False)

    chat.message_box.fill("second")
    chat.message_box.press("Enter")

    expect(chat.replies.last).to_have_text("You said: second (turn 1)", timeout=RESULT_TIMEOUT)
    [*_, asked] = server.requests_for("chat")
    assert [message["content"] for message in asked.json["messages"]][1:] == ["second"]
    page.get_by_role("button", name="New chat").click()
    expect(chat.questions).to_have_count(0)
    chat.expect_ready()


# 3. Visitors read what they can do; operators' hints stay on this machine.


def test_on_this_machine_the_message_also_names_the_setting(page: Page, server: InferenceTestServer):
    chat = Chat(page)
    server.inject("rate_limit", "chat")
    chat.message_box.fill("hello")
    chat.message_box.press("Enter")

    expect(chat.replies).to_have_text(
        [f"⚠️ No reply {RATE_LIMITED}{OPERATOR_RATE_LIMIT}"], timeout=RESULT_TIMEOUT
    )


def test_a_visitor_is_not_told_about_settings(visitor: Page, server: InferenceTestServer):
    open_app(visitor, "summarize", "Text summarization")
    server.inject("unauthorized", "summarize")
    visitor.get_by_label("Text to summarize").fill(EIFFEL)
    visitor.get_by_role("button", name="Summarize").click()

    expect(toast(visitor)).to_have_text(
        "the summarization endpoint refused the request (HTTP 401: Invalid credentials in Authorization "
        "header). The app's owner has to fix its settings first: try again later.",
        timeout=RESULT_TIMEOUT,
    )


# 6. Hints under labels and the primary buttons read at WCAG AA contrast.


def test_hint_text_and_primary_buttons_read_at_aa_contrast(page: Page):
    open_app(page, "ner", "Named entity recognition")
    hint = page.get_by_text("Hide the entities the model is less sure of; 0 shows them all")
    button = page.get_by_role("button", name="Find entities")

    assert contrast(hint) == {"fore": "rgb(82, 82, 91)", "back": "rgb(255, 255, 255)", "ratio": 7.73}
    assert contrast(button) == {"fore": "rgb(255, 255, 255)", "back": "rgb(194, 65, 12)", "ratio": 5.18}
    button.hover()
    assert contrast(button)["ratio"] >= AA_CONTRAST


# 7. Every text app runs from the keyboard, and says how.


def test_summarize_runs_on_shift_enter_and_says_so(page: Page):
    open_app(page, "summarize", "Text summarization")
    text = page.get_by_label("Text to summarize")
    expect(page.get_by_text("Shift+Enter summarizes", exact=True)).to_be_visible()

    text.fill(EIFFEL)
    text.press("Shift+Enter")

    summary = page.get_by_label("Summary", exact=True)
    expect(summary).to_have_value(summary_for(EIFFEL, 130), timeout=RESULT_TIMEOUT)


def test_ner_says_that_shift_enter_finds_the_entities(page: Page):
    open_app(page, "ner", "Named entity recognition")
    expect(page.get_by_text("Shift+Enter finds the entities", exact=True)).to_be_visible()

    page.get_by_label("Text to find entities").fill("My name is Andrew")
    page.get_by_label("Text to find entities").press("Shift+Enter")

    expect(page.get_by_test_id("highlighted-text")).to_contain_text("PER", timeout=RESULT_TIMEOUT)


def test_enter_sends_an_edited_chat_message(page: Page):
    chat = Chat(page)
    chat.message_box.fill("first")
    chat.message_box.press("Enter")
    expect(chat.replies).to_have_text(["You said: first (turn 1)"], timeout=RESULT_TIMEOUT)
    expect(chat.message_box).to_be_editable(timeout=RESULT_TIMEOUT)

    chat.questions.first.hover()
    chat.conversation.get_by_role("button", name="Edit", exact=True).click()
    edit_box = chat.conversation.get_by_role("textbox")
    edit_box.fill("first, edited")
    edit_box.press("Enter")

    expect(chat.questions).to_have_text(["first, edited"], timeout=RESULT_TIMEOUT)
    expect(chat.replies).to_have_text(["You said: first, edited (turn 1)"], timeout=RESULT_TIMEOUT)


# 8. The pages in Chinese.


def test_every_app_in_chinese_names_its_examples_in_chinese(chinese: Page):
    for name, title in (
        ("summarize", "文本摘要"),
        ("ner", "命名实体识别"),
        ("caption", "图像描述"),
        ("imagegen", "图像生成"),
        ("game", "看图说话，照话作画 🖍️"),
    ):
        open_app(chinese, name, title)
        expect(chinese.get_by_text("示例", exact=True)).to_be_visible()
        expect(chinese.get_by_text("Examples", exact=True)).to_have_count(0)


def test_the_chatbot_in_chinese(chinese: Page, server: InferenceTestServer):
    chat = Chat(chinese, message="消息", title="聊天机器人")
    expect(chat.conversation.get_by_role("button", name="数学是被发明的，还是被发现的？")).to_be_visible()
    server.inject("rate_limit", "chat")
    chat.message_box.fill("你好")
    chat.message_box.press("Enter")

    expect(chat.replies).to_contain_text(["⚠️ 没有回复"], timeout=RESULT_TIMEOUT)
    chinese.get_by_role("button", name="高级选项").click()
    expect(chinese.get_by_label("系统消息")).to_have_value(
        "用户与基于大语言模型的 AI 助手之间的对话。助手给出有用而诚实的回答。"
    )


def test_an_error_toast_is_titled_in_chinese(chinese: Page, server: InferenceTestServer):
    open_app(chinese, "summarize", "文本摘要")
    server.inject("rate_limit", "summarize")
    chinese.get_by_label("待摘要的文本").fill(EIFFEL)
    chinese.get_by_role("button", name="生成摘要").click()

    expect(chinese.get_by_test_id("toast-body")).to_contain_text("出错了", timeout=RESULT_TIMEOUT)
    expect(chinese.get_by_test_id("toast-body")).not_to_contain_text("Error")


def test_the_screen_reader_hears_that_a_summary_is_done(chinese: Page):
    open_app(chinese, "summarize", "文本摘要")
    chinese.get_by_label("待摘要的文本").fill(EIFFEL)
    chinese.get_by_role("button", name="生成摘要").click()

    expect(chinese.get_by_role("status").filter(has_text="完成")).to_have_count(1, timeout=RESULT_TIMEOUT)
    expect(chinese.get_by_role("status").filter(has_text="common.")).to_have_count(0)


# 2 and 9. The chatbot's first screen holds the conversation and the message box, on a phone too.


def test_on_a_phone_the_message_box_is_on_the_first_screen(phone: Page):
    chat = Chat(phone)

    box = chat.message_box.bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"], box
    expect(chat.conversation.get_by_role("button", name=CHAT_EXAMPLE)).to_be_in_viewport()
    screenshot(phone, "chatbot-phone")


def test_the_chat_header_is_compact(page: Page):
    chat = Chat(page)

    # One model offered: its id is a line of text, not a read-only field.
    expect(page.get_by_role("combobox", name="Model")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^🤖 "))).to_be_visible()
    expect(page.get_by_text("Hover over a message")).to_have_count(0)
    box = chat.message_box.bounding_box()
    assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], box


# 5. No stale or misplaced errors.


def test_the_game_paints_on_enter_and_an_empty_caption_is_called_a_caption(page: Page):
    open_app(page, "game", "Describe-and-generate game 🖍️")
    page.get_by_role("button", name="Generate image", exact=True).click()

    expect(toast(page)).to_have_text("The caption is empty: enter some text first.", timeout=RESULT_TIMEOUT)

    caption = page.get_by_label("Generated caption")
    caption.fill("a red bicycle by the sea")
    caption.press("Enter")

    expect_image_of_size(image_in(page, "Generated image"), (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE))


def error_pills(page: Page) -> Locator:
    """The "Error" Gradio leaves on each output of an event that failed."""
    return page.get_by_test_id("status-tracker").get_by_text("Error", exact=True)


def test_the_game_clears_the_errors_of_a_failed_run_when_another_succeeds(page: Page):
    open_app(page, "game", "Describe-and-generate game 🖍️")
    page.get_by_role("button", name="📞 Play telephone").click()
    expect(toast(page)).to_have_text("Upload an image first.", timeout=RESULT_TIMEOUT)
    expect(error_pills(page)).to_have_count(2)

    upload(page, TOWER)
    page.get_by_role("button", name="Caption and generate").click()

    expect(page.get_by_label("Generated caption")).to_have_value(
        "a 377x600 green picture", timeout=RESULT_TIMEOUT
    )
    expect(error_pills(page)).to_have_count(0)


# 10. caption's examples are named, and picking one captions it.


def test_a_picked_caption_example_is_named_captioned_and_clears_an_error(
    page: Page, server: InferenceTestServer
):
    open_app(page, "caption", "Image captioning")
    server.inject("unauthorized", "caption")
    upload(page, LION)
    expect(error_pills(page)).to_have_count(1, timeout=RESULT_TIMEOUT)

    page.get_by_role("button", name="The Eiffel Tower").click()

    expect(page.get_by_label("Caption", exact=True)).to_have_value(
        "a 377x600 green picture", timeout=RESULT_TIMEOUT
    )
    expect(error_pills(page)).to_have_count(0)
    for name in ("A cheetah", "A lion"):
        expect(page.get_by_role("button", name=name)).to_be_visible()


def test_caption_examples_are_named_in_chinese(chinese: Page):
    open_app(chinese, "caption", "图像描述")

    for name in ("猎豹", "狮子", "埃菲尔铁塔", "上传文件", "用摄像头拍摄", "从剪贴板粘贴"):
        expect(chinese.get_by_role("button", name=name)).to_be_visible()


# 11. Telephone shows its progress.


def test_telephone_says_which_round_it_plays_and_shows_the_start_as_a_thumbnail(
    page: Page, server: InferenceTestServer
):
    open_app(page, "game", "Describe-and-generate game 🖍️")
    upload(page, TOWER)
    server.latency = 0.5
    page.get_by_role("spinbutton", name="number input for Rounds").fill("2")
    page.get_by_role("spinbutton", name="number input for Rounds").press("Enter")
    page.get_by_role("button", name="📞 Play telephone").click()

    verdict = page.get_by_text(re.compile(r"^(Captioning the|Round \d)"))
    expect(verdict).to_have_text("Captioning the starting image…", timeout=RESULT_TIMEOUT)
    start = page.get_by_role("button", name="Thumbnail 1 of 1")
    expect(start).to_be_visible()
    box = start.bounding_box()
    assert box is not None and box["width"] < 220, box
    expect(verdict).to_have_text("Round 1 of 2: painting the caption…", timeout=RESULT_TIMEOUT)
    expect(verdict).to_have_text("Round 2 of 2: captioning the painting…", timeout=RESULT_TIMEOUT)
    expect(page.get_by_text("% alike.")).to_be_visible(timeout=RESULT_TIMEOUT)


# 4. imagegen's layout.


def test_imagegen_shows_its_results_whole_and_its_history_once_there_is_one(page: Page):
    open_app(page, "imagegen", "Image generation")
    results = page.get_by_test_id("block-label").filter(has_text="Results")
    examples = page.get_by_text("Examples", exact=True)
    expect(page.get_by_text("History", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="♻️ Reuse these settings")).to_have_count(0)
    assert examples.bounding_box()["y"] < results.bounding_box()["y"]

    page.get_by_label("Your prompt").fill("a watercolour of a lighthouse")
    page.get_by_role("spinbutton", name="number input for Number of images").fill("2")
    page.get_by_role("spinbutton", name="number input for Number of images").press("Enter")
    page.get_by_role("button", name="Generate", exact=True).click()

    gallery = results.locator("xpath=..")
    captions = gallery.get_by_text(re.compile(r"^Seed \d+$"))
    expect(captions).to_have_count(2, timeout=RESULT_TIMEOUT)
    # Nothing of the images is scrolled out of the gallery: each is whole, its caption at its foot.
    hidden = gallery.evaluate("g => [...g.querySelectorAll('*')].map(e => e.scrollHeight - e.clientHeight)")
    assert max(hidden) <= 0, hidden
    for caption in captions.all():
        expect(caption).to_be_visible()
    expect(page.get_by_text("History", exact=True)).to_have_count(1)
    reuse = page.get_by_role("button", name="♻️ Reuse these settings")
    expect(reuse).to_be_visible()
    assert reuse.bounding_box()["width"] < VIEWPORT["width"] / 2
    screenshot(page, "imagegen_results")


def test_on_a_phone_the_imagegen_prompt_has_a_line_of_its_own(phone: Page):
    open_app(phone, "imagegen", "Image generation")

    prompt = phone.get_by_label("Your prompt").bounding_box()
    assert prompt is not None and prompt["width"] > PHONE["width"] * 0.7, prompt
    screenshot(phone, "imagegen-phone")


# 12. The serve-all index.


def test_the_index_names_each_app_by_its_title_in_chinese(chinese: Page):
    chinese.goto("/")

    for name, title in (
        ("summarize", "文本摘要"),
        ("ner", "命名实体识别"),
        ("caption", "图像描述"),
        ("imagegen", "图像生成"),
        ("game", "看图说话，照话作画 🖍️"),
        ("chatbot", "聊天机器人"),
    ):
        expect(chinese.get_by_role("link", name=title, exact=True)).to_have_attribute("href", f"/{name}/")
    expect(chinese.get_by_text("模型在推理服务上运行。")).to_have_count(6)
    expect(chinese.locator("link[rel=icon]")).to_have_attribute("href", re.compile(r"^data:image/svg\+xml,"))


def test_the_index_is_a_page_of_cards_that_fits_a_phone(phone: Page):
    phone.goto("/")

    link = phone.get_by_role("link", name="Text summarization", exact=True)
    assert contrast(link)["ratio"] >= AA_CONTRAST
    card = link.locator("xpath=..")
    assert card.evaluate("card => getComputedStyle(card).borderTopStyle") == "solid"
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width == PHONE["width"], width
    screenshot(phone, "index-phone")
