"""Caption: describe an image in one sentence."""

import gradio as gr

from common.examples import image_examples
from common.settings import Settings, load_settings
from common.tasks.caption import CaptionTask
from common.ui import ImageUpload, configure_queue, launch

EXAMPLES = image_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = CaptionTask(settings)
    demo = gr.Interface(
        fn=task.caption,
        inputs=ImageUpload("Upload image"),
        outputs=gr.Textbox(label="Caption"),
        title="Image captioning",
        description=f"Caption any image using the `{task.model}` model under the hood!",
        examples=EXAMPLES,
        cache_examples=False,
        flagging_mode="never",
        api_name="caption",
    )
    return configure_queue(demo, settings, "caption")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
