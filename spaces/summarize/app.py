"""Summarize: paste a text, get its summary."""

import gradio as gr

from common.examples import text_examples
from common.settings import Settings, load_settings
from common.tasks.summarize import MAX_LENGTH, MIN_LENGTH, SummarizeTask
from common.ui import configure_queue, launch, slider

EXAMPLES = text_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = SummarizeTask(settings)
    demo = gr.Interface(
        fn=task.summarize,
        inputs=gr.Textbox(label="Text to summarize", lines=6),
        additional_inputs=[
            slider("Minimum length", MIN_LENGTH, info="Shortest summary, in tokens"),
            slider("Maximum length", MAX_LENGTH, info="Longest summary, in tokens"),
        ],
        additional_inputs_accordion=gr.Accordion("Length", open=False),
        outputs=gr.Textbox(label="Summary", lines=3),
        title="Text summarization",
        description=f"Summarize any text using the `{task.model}` model under the hood!",
        examples=[[text, MIN_LENGTH.default, MAX_LENGTH.default] for text in EXAMPLES],
        cache_examples=False,
        flagging_mode="never",
        api_name="summarize",
    )
    return configure_queue(demo, settings, "summarize")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
