"""NER: find the people, organisations and places in a text."""

import gradio as gr

from common.examples import text_examples
from common.i18n import ui
from common.settings import Settings, load_settings
from common.tasks.ner import ENTITY_COLORS, THRESHOLD, NerTask, entity_legend, show_entities
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
    task = NerTask(settings)
    with gr.Blocks(title="Named entity recognition", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(ui("ner_title"))
        gr.Markdown(ui("ner_description"))
        model_line(task.model)
        sign_in_button()
        analysis = gr.State()
        text = gr.Textbox(label=ui("ner_text"), info=ui("ner_text_info"), lines=3)
        with gr.Row():
            threshold = slider(ui("ner_threshold"), THRESHOLD, info=ui("ner_threshold_info"))
            find_button = gr.Button(ui("ner_button"), variant="primary")
        gr.HTML(entity_legend())
        with gr.Row():
            # Labels inline beside each entity, not only in a legend: colour alone conveys nothing
            # to a reader who cannot tell the colours apart.
            highlighted = gr.HighlightedText(
                label=ui("ner_output"),
                color_map=ENTITY_COLORS,
                show_legend=False,
                show_inline_category=True,
            )
            entity_table = gr.Dataframe(
                label=ui("ner_table"),
                datatype=["str", "str", "number", "number", "number"],
                interactive=False,
            )
        gr.Examples(EXAMPLES, inputs=text, label=ui("examples"))

        gr.on(
            [find_button.click, text.submit],
            task.find,
            inputs=[text, threshold],
            outputs=[analysis, highlighted, entity_table],
            api_name="find_entities",
            api_visibility="undocumented",
        )
        # Moving the threshold filters the entities already found, without asking the model again.
        gr.on(
            [demo.load, threshold.change],
            show_entities,
            inputs=[analysis, threshold],
            outputs=[highlighted, entity_table],
            api_name="show_entities",
            api_visibility="undocumented",
            queue=False,
            show_progress="hidden",
        )
        api_endpoint(task.ner, [text, threshold], [highlighted], api_name="ner")
        json_api(task.entities, "entities", result="entities")
    return ready_to_serve(demo, settings, "ner")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
