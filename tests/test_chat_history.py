"""Gradio chat history normalised to the messages a chat-completion server accepts."""

from common.chat import Attachment, build_messages, fold_system_message, normalize_history


def test_string_and_part_list_contents_become_plain_strings():
    history = [
        {"role": "user", "content": "Hello", "metadata": None, "options": None},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Bye"}], "metadata": {}, "options": []},
    ]
    assert normalize_history(history) == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there"},
        {"role": "user", "content": "Bye"},
    ]


def test_an_answers_files_empty_messages_and_app_notes_are_left_out():
    history = [
        {"role": "assistant", "content": [{"type": "file", "file": {"path": "/tmp/a.png"}}]},
        {"role": "assistant", "content": "partial answer"},
        {"role": "assistant", "content": "The connection was cut.", "metadata": {"title": "⚠️ Reply cut off"}},
        {"role": "assistant", "content": "   "},
        {"role": "system", "content": "injected"},
    ]
    assert normalize_history(history) == [{"role": "assistant", "content": "partial answer"}]


def test_a_users_pictures_stay_in_their_turn_unread_before_the_text():
    openai_picture = {"type": "image_url", "image_url": {"url": "data:x"}}
    history = [
        {"role": "user", "content": [{"type": "file", "file": {"path": "/tmp/a.png"}}]},
        {"role": "user", "content": {"path": "/tmp/b.png"}},
        {"role": "user", "content": [{"type": "text", "text": "and?"}, openai_picture]},
    ]

    assert normalize_history(history) == [
        {"role": "user", "content": [Attachment({"path": "/tmp/a.png"})]},
        {"role": "user", "content": [Attachment({"path": "/tmp/b.png"})]},
        {"role": "user", "content": [Attachment("data:x"), {"type": "text", "text": "and?"}]},
    ]


def test_messages_are_system_then_history_then_user():
    history = normalize_history([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert build_messages("Be brief.", history, "c") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]


def test_a_blank_system_message_is_left_out():
    assert build_messages("  ", [], "hi") == [{"role": "user", "content": "hi"}]


def test_a_system_message_folds_into_the_first_user_message():
    messages = build_messages("Be brief.", [{"role": "user", "content": "Hi"}], "And now?")

    assert fold_system_message(messages) == [
        {"role": "user", "content": "Be brief.\n\nHi"},
        {"role": "user", "content": "And now?"},
    ]


def test_a_greeting_before_the_first_user_message_stays_where_it_was():
    greeting = {"role": "assistant", "content": "Hello! Ask me anything."}

    assert fold_system_message(build_messages("Be brief.", [greeting], "Hi")) == [
        greeting,
        {"role": "user", "content": "Be brief.\n\nHi"},
    ]


def test_messages_without_a_system_message_are_left_as_they_are():
    messages = build_messages("", [], "Hi")

    assert fold_system_message(messages) == [{"role": "user", "content": "Hi"}]


def test_reasoning_never_goes_back_to_the_model():
    history = [
        {"role": "user", "content": "Hello"},
        {
            "role": "assistant",
            "content": "The user greets me.",
            "metadata": {"title": "💭 Thinking", "status": "done", "duration": 1.2},
        },
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "And now?"},
        {"role": "assistant", "content": "<think>\nStill polite.\n</think>\n\nHello again."},
        {"role": "user", "content": "<think>a user's own text</think> stays"},
    ]
    assert normalize_history(history) == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "And now?"},
        {"role": "assistant", "content": "Hello again."},
        {"role": "user", "content": "<think>a user's own text</think> stays"},
    ]


def test_a_message_the_page_could_not_answer_after_thinking_is_left_out():
    history = [
        {"role": "user", "content": "Hello"},
        {
            "role": "assistant",
            "content": "Let me see.",
            "metadata": {"title": "💭 Thinking", "status": "done"},
        },
        {"role": "assistant", "content": "The server failed.", "metadata": {"title": "⚠️ No reply"}},
    ]
    assert normalize_history(history) == []
