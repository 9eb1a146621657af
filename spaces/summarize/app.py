"""Summarize: paste a text, however long, get its summary."""

import gradio as gr

from common.examples import text_examples
from common.i18n import ui
from common.settings import Settings, load_settings
from common.tasks.summarize import MAX_LENGTH, MIN_LENGTH, SummarizeTask
from common.ui import (
    DELETE_CACHE,
    api_endpoint,
    json_api,
    launch,
    model_line,
    ready_to_serve,
    sign_in_button,
    slider,
)

EXAMPLES = text_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = SummarizeTask(settings)
    with gr.Blocks(title="Text summarization", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(ui("summarize_title"))
        gr.Markdown(ui("summarize_description"))
        model_line(task.model)
        sign_in_button()
        with gr.Row():
            with gr.Column():
                text = gr.Textbox(
                    label=ui("summarize_text"), info=ui("summarize_text_info"), lines=6, max_lines=20
                )
                with gr.Accordion(ui("summarize_lengths"), open=False):
                    min_length = slider(
                        ui("summarize_min_length"), MIN_LENGTH, info=ui("summarize_min_length_info")
                    )
                    max_length = slider(
                        ui("summarize_max_length"), MAX_LENGTH, info=ui("summarize_max_length_info")
                    )
                summarize_button = gr.Button(ui("summarize_button"), variant="primary")
            with gr.Column():
                summary = gr.Textbox(label=ui("summarize_output"), lines=6)
                report = gr.Markdown()
        gr.Examples(EXAMPLES, inputs=text, label=ui("examples"))

        summary_inputs = [text, min_length, max_length]
        gr.on(
            [summarize_button.click, text.submit],
            task.summarize_with_report,
            inputs=summary_inputs,
            outputs=[summary, report],
            api_name="summarize_with_report",
            api_visibility="undocumented",
        )
        api_endpoint(task.summarize, summary_inputs, [summary], api_name="summarize")
        json_api(task.summarize_document, "summarize_document", result="document_summary")
    return ready_to_serve(demo, settings, "summarize")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
