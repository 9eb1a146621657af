"""Chatbot: talk to an instruct model, with the reply streamed as it is written."""

import gradio as gr

from common.examples import text_examples
from common.settings import Settings, load_settings
from common.tasks.chat import DEFAULT_SYSTEM_MESSAGE, MAX_TOKENS, TEMPERATURE, ChatTask
from common.ui import configure_queue, launch, slider

EXAMPLES = text_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = ChatTask(settings)
    demo = gr.ChatInterface(
        task.chat,
        api_name="chat",
        chatbot=gr.Chatbot(label=task.model, placeholder="Ask me anything."),
        additional_inputs=[
            gr.Textbox(label="System message", value=DEFAULT_SYSTEM_MESSAGE, lines=2),
            slider("Temperature", TEMPERATURE),
            slider("Max new tokens", MAX_TOKENS),
        ],
        additional_inputs_accordion=gr.Accordion("Advanced options", open=False),
        examples=[[prompt] for prompt in EXAMPLES],
        cache_examples=False,
        title="Chatbot",
        description=f"Chat with `{task.model}`. Replies stream as they are written; press stop at any time.",
        flagging_mode="never",
        stop_btn=True,
    )
    return configure_queue(demo, settings, "chat")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
