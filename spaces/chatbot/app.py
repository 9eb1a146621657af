"""Chatbot: talk to an instruct model, with the reply streamed as it is written."""

import gradio as gr

from common.examples import text_examples
from common.i18n import CHINESE, request_language, text, ui
from common.settings import Settings, load_settings
from common.tasks.chat import DEFAULT_SYSTEM_MESSAGE, MAX_TOKENS, TEMPERATURE, ChatTask
from common.tools import ToolBox
from common.ui import (
    CHAT_REPLIES,
    DELETE_CACHE,
    chat_concurrency,
    json_api,
    keep_chat_compact,
    launch,
    model_line,
    ready_to_serve,
    share_chat_queue,
    sign_in_button,
    slider,
)

EXAMPLES = text_examples(__file__)
CHINESE_EXAMPLES = text_examples(__file__, CHINESE)


def in_visitors_language() -> tuple[gr.Chatbot, str]:
    """The examples and the default system message in the language of the visitor's browser."""
    examples = CHINESE_EXAMPLES if request_language() == CHINESE else EXAMPLES
    system_message = text("chatbot_system_message_default")
    return gr.Chatbot(examples=[{"text": prompt} for prompt in examples]), system_message


def tools_switch(task: ChatTask) -> gr.Checkbox:
    """The switch for the tools, shown when there are tools to call: which servers they come from is
    known once the app serves (serve-all names its sibling apps then)."""
    servers = ", ".join(server.name for server in task.tools.servers)
    return gr.Checkbox(visible=task.offers_tools, info=text("chatbot_use_tools_info", servers=servers))


def build_demo(settings: Settings | None = None, tools: ToolBox | None = None) -> gr.Blocks:
    """The chatbot; `tools` are the MCP servers' tools it may call, else those of MCP_SERVERS."""
    settings = settings or load_settings()
    task = ChatTask(settings, tools)
    replies_at_once = chat_concurrency(settings)
    # The page's picker keeps its choice as the page's session state.
    model = gr.State(task.model)
    system_message = gr.Textbox(label=ui("chatbot_system_message"), value=DEFAULT_SYSTEM_MESSAGE, lines=2)
    # Pictures ride along with the text, several at once, for a model that sees them.
    message = gr.MultimodalTextbox(
        label=ui("chatbot_message"),
        placeholder=ui("chatbot_message_placeholder"),
        file_types=["image"],
        file_count="multiple",
        sources=["upload"],
        submit_btn=True,
        stop_btn=True,
        autofocus=True,
        scale=7,
    )
    # Made before the page, so the chat interface draws them in its accordion rather than where they
    # were made.
    advanced = [
        system_message,
        slider(ui("chatbot_temperature"), TEMPERATURE, info=ui("chatbot_temperature_info")),
        slider(ui("chatbot_max_tokens"), MAX_TOKENS, info=ui("chatbot_max_tokens_info")),
    ]
    advanced_options = gr.Accordion(ui("chatbot_advanced"), open=False)
    with gr.Blocks(title="Chatbot", fill_height=True, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(ui("chatbot_title"))
        gr.Markdown(ui("chatbot_description"))
        sign_in_button()
        # One model is a line of text; a choice of several is a picker.
        if len(task.models) == 1:
            model_line(task.model)
        picker = gr.Dropdown(
            list(task.models),
            value=task.model,
            label=ui("chatbot_model"),
            info=ui("chatbot_model_info"),
            visible=len(task.models) > 1,
        )
        # Beside the picker, not among the advanced options: it changes what the model can do.
        use_tools = gr.Checkbox(value=True, label=ui("chatbot_use_tools"), visible=False)
        chat = gr.ChatInterface(
            task.page_chat,
            multimodal=True,
            # The page's chat keeps its history in the visitor's session; programs and agents get the
            # stateless /chat below instead, so no two callers (MCP clients share a session) ever share one.
            api_name="page_chat",
            api_visibility="private",
            chatbot=gr.Chatbot(
                label=ui("chatbot_conversation"),
                placeholder=ui("chatbot_empty"),
                buttons=["copy", "copy_all"],
                scale=1,
            ),
            textbox=message,
            additional_inputs=[*advanced, model, use_tools],
            additional_inputs_accordion=advanced_options,
            examples=[[prompt] for prompt in EXAMPLES],
            cache_examples=False,
            editable=True,
            save_history=True,
            flagging_mode="never",
            concurrency_limit=replies_at_once,
            # An empty message never leaves the box: nothing to answer, nothing to undo. A picture alone
            # is a message.
            validator=lambda message: gr.validate(
                bool(message and (message["text"].strip() or message["files"])), text("chatbot_type_first")
            ),
        )
        keep_chat_compact(chat)
        # Replies wait their turn in Gradio's queue, the page's and the API's alike, rather than
        # pile up on a server that writes a few at a time.
        share_chat_queue(chat)
        json_api(
            task.chat, "chat", result="reply", concurrency_limit=replies_at_once, concurrency_id=CHAT_REPLIES
        )

        # Unprocessed, so an id the list lacks reaches the task, which refuses it in the visitor's language.
        # Only the page keeps the choice (in its session): programs and agents pass `model` to /chat.
        picker.change(
            task.choose_model,
            picker,
            model,
            api_name="choose_model",
            api_visibility="undocumented",
            preprocess=False,
        )
        demo.load(
            in_visitors_language,
            outputs=[chat.chatbot, system_message],
            queue=False,
            api_visibility="private",
        )
        demo.load(lambda: tools_switch(task), outputs=use_tools, queue=False, api_visibility="private")
        # Gradio blanks the message box's placeholder while a reply is written; bring it back after.
        chat.saved_conversations.change(
            lambda: gr.MultimodalTextbox(placeholder=ui("chatbot_message_placeholder")),
            outputs=message,
            queue=False,
            api_visibility="private",
        )
    return ready_to_serve(demo, settings, "chat")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
