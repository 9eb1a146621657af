"""NER: find the people, organisations and places in a text."""

import gradio as gr

from common.examples import text_examples
from common.settings import Settings, load_settings
from common.tasks.ner import ENTITY_COLORS, NerTask
from common.ui import configure_queue, launch

EXAMPLES = text_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = NerTask(settings)
    demo = gr.Interface(
        fn=task.ner,
        inputs=gr.Textbox(label="Text to find entities", lines=2),
        outputs=gr.HighlightedText(label="Text with entities", color_map=ENTITY_COLORS, show_legend=True),
        title="Named entity recognition",
        description=f"Find people (PER), organisations (ORG), locations (LOC) and other names (MISC) "
        f"using the `{task.model}` model under the hood!",
        examples=EXAMPLES,
        cache_examples=False,
        flagging_mode="never",
        api_name="ner",
    )
    return configure_queue(demo, settings, "ner")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
