"""Configuration precedence and validation."""

import pytest

from common.settings import DEFAULT_MODELS, SettingsError, ToolServer, load_settings


@pytest.fixture
def dotenv(tmp_path):
    path = tmp_path / ".env"

    def write(**values: str) -> str:
        path.write_text("".join(f'{key}="{value}"\n' for key, value in values.items()))
        return str(path)

    return write


def test_defaults_without_configuration(dotenv):
    settings = load_settings({}, dotenv())
    assert settings.token is None
    assert settings.summarize.model == "sshleifer/distilbart-cnn-12-6"
    assert settings.imagegen.model == "stable-diffusion-v1-5/stable-diffusion-v1-5"
    assert settings.summarize.provider == settings.ner.provider == settings.caption.provider == "hf-inference"
    assert settings.imagegen.provider == settings.chat.provider == "auto"
    assert all(settings.backend_for(task) == "local" for task in DEFAULT_MODELS)


def test_environment_wins_over_dotenv(dotenv):
    settings = load_settings(
        {"SUMMARY_MODEL": "from/env"}, dotenv(SUMMARY_MODEL="from/dotenv", NER_MODEL="x/y")
    )
    assert settings.summarize.model == "from/env"
    assert settings.ner.model == "x/y"


def test_hf_token_wins_over_hf_api_key(dotenv):
    assert load_settings({"HF_TOKEN": "a", "HF_API_KEY": "b"}, dotenv()).token == "a"
    assert load_settings({"HF_API_KEY": "b"}, dotenv()).token == "b"
    assert load_settings({}, dotenv(HF_API_KEY="c")).token == "c"


def test_token_makes_auto_remote_everywhere(dotenv):
    settings = load_settings({"HF_TOKEN": "t"}, dotenv())
    assert {settings.backend_for(task) for task in DEFAULT_MODELS} == {"remote"}


def test_endpoint_url_makes_only_its_task_remote(dotenv):
    settings = load_settings({"HF_API_NER_BASE": "http://127.0.0.1:9/ner"}, dotenv())
    assert settings.backend_for("ner") == "remote"
    assert settings.ner.target == "http://127.0.0.1:9/ner"
    assert settings.backend_for("summarize") == "local"


def test_explicit_backend_overrides_auto(dotenv):
    assert (
        load_settings({"INFERENCE_BACKEND": "local", "HF_TOKEN": "t"}, dotenv()).backend_for("chat")
        == "local"
    )
    assert load_settings({"INFERENCE_BACKEND": "remote"}, dotenv()).backend_for("chat") == "remote"


def test_seed_endpoint_names_are_read(dotenv):
    settings = load_settings(
        {
            "HF_API_SUMMARY_BASE": "http://h/s",
            "HF_API_ITT_BASE": "http://h/i",
            "HF_API_TTI_BASE": "http://h/t",
            "HF_API_FALCOM_BASE": "http://h/falcon",
        },
        dotenv(),
    )
    assert settings.summarize.target == "http://h/s"
    assert settings.caption.target == "http://h/i"
    assert settings.imagegen.target == "http://h/t"
    assert settings.chat.target == "http://h/falcon"
    assert (
        load_settings(
            {"HF_API_CHAT_BASE": "http://h/c", "HF_API_FALCOM_BASE": "http://h/f"}, dotenv()
        ).chat.target
        == "http://h/c"
    )


def test_provider_and_timeout_overrides(dotenv):
    settings = load_settings({"HF_PROVIDER": "together", "INFERENCE_TIMEOUT": "7.5"}, dotenv())
    assert {settings.for_task(t).provider for t in DEFAULT_MODELS} == {"together"}
    assert {settings.for_task(t).timeout for t in DEFAULT_MODELS} == {7.5}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"INFERENCE_BACKEND": "gpu"}, "INFERENCE_BACKEND"),
        ({"INFERENCE_TIMEOUT": "soon"}, "INFERENCE_TIMEOUT"),
        ({"INFERENCE_TIMEOUT": "-1"}, "INFERENCE_TIMEOUT"),
        ({"HF_API_NER_BASE": "localhost:8080"}, "HF_API_NER_BASE"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(dotenv, variables, named):
    with pytest.raises(SettingsError, match=named):
        load_settings(variables, dotenv())


def test_what_the_operator_says_of_a_chat_server_is_read_for_chat_only(dotenv):
    settings = load_settings(
        {"HF_API_CHAT_BASE": "http://h/c", "CHAT_CONTEXT_WINDOW": "2048"}, dotenv(CHAT_CONCURRENCY="1")
    )

    unset = load_settings({}, dotenv()).chat

    assert (settings.chat.context_window, settings.chat.concurrency) == (2048, 1)
    assert (settings.summarize.context_window, settings.summarize.concurrency) == (None, None)
    assert (unset.context_window, unset.concurrency) == (None, None)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"CHAT_CONTEXT_WINDOW": "8k"}, "CHAT_CONTEXT_WINDOW must be a whole number of tokens, not '8k'."),
        (
            {"CHAT_CONTEXT_WINDOW": "2048.5"},
            "CHAT_CONTEXT_WINDOW must be a whole number of tokens, not '2048.5'.",
        ),
        ({"CHAT_CONTEXT_WINDOW": "0"}, "CHAT_CONTEXT_WINDOW must be at least 1, not 0."),
        (
            {"CHAT_CONCURRENCY": "many"},
            "CHAT_CONCURRENCY must be a whole number of replies at once, not 'many'.",
        ),
        ({"CHAT_CONCURRENCY": "-2"}, "CHAT_CONCURRENCY must be at least 1, not -2."),
    ],
)
def test_bad_chat_server_limits_are_refused_with_what_to_write(dotenv, variables, message):
    with pytest.raises(SettingsError) as refused:
        load_settings(variables, dotenv())

    assert str(refused.value) == message


def test_token_is_not_in_the_repr(dotenv):
    settings = load_settings({"HF_TOKEN": "hf_secret_value"}, dotenv())
    assert "hf_secret_value" not in repr(settings)


def test_local_chat_defaults_to_a_model_a_laptop_can_run(dotenv):
    assert load_settings({}, dotenv()).chat.model == "Qwen/Qwen2.5-1.5B-Instruct"
    assert load_settings({"HF_TOKEN": "t"}, dotenv()).chat.model == "Qwen/Qwen2.5-7B-Instruct"
    assert load_settings({"CHAT_MODEL": "my/model"}, dotenv()).chat.model == "my/model"


def test_mcp_servers_are_read_as_huggingchat_lists_them(dotenv):
    listed = (
        '[{"name": "search", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer k"}}]'
    )

    servers = load_settings({"MCP_SERVERS": listed}, dotenv()).mcp_servers

    assert servers == (
        ToolServer(name="search", url="https://mcp.example/mcp", headers=(("Authorization", "Bearer k"),)),
    )
    assert "Bearer k" not in repr(servers)
    assert load_settings({"MCP_SERVERS": "[]"}, dotenv()).mcp_servers == ()
    assert load_settings({}, dotenv()).mcp_servers is None


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ("{name: x}", "MCP_SERVERS must be JSON, such as"),
        ('{"name": "x", "url": "http://h"}', "MCP_SERVERS must be a JSON list, such as"),
        ('["http://h"]', "MCP_SERVERS entry 1 must be an object"),
        ('[{"name": "a b", "url": "http://h"}]', "MCP_SERVERS entry 1 needs a name of 1-32 letters"),
        (
            '[{"name": "a", "url": "ftp://h"}]',
            r"MCP_SERVERS entry 1 \(a\) needs an http\(s\) url, not 'ftp://h'.",
        ),
        (
            '[{"name": "a", "url": "http://h", "headers": {"X": 1}}]',
            r"entry 1 \(a\) headers must be an object",
        ),
        ('[{"name": "a", "url": "http://h"}, {"name": "a", "url": "http://i"}]', "repeats a name"),
    ],
)
def test_bad_mcp_servers_are_refused_with_what_to_write(dotenv, listed, message):
    with pytest.raises(SettingsError, match=message):
        load_settings({"MCP_SERVERS": listed}, dotenv())
