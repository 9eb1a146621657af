"""Caption: describe an image in one sentence."""

import gradio as gr

from common.examples import image_examples
from common.i18n import ui
from common.settings import Settings, load_settings
from common.tasks.caption import CaptionTask
from common.ui import DELETE_CACHE, RAW_UPLOAD, launch, model_line, ready_to_serve, sign_in_button

EXAMPLES = image_examples(__file__)


def build_demo(settings: Settings | None = None) -> gr.Blocks:
    settings = settings or load_settings()
    task = CaptionTask(settings)
    with gr.Blocks(title="Image captioning", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(ui("caption_title"))
        gr.Markdown(ui("caption_description"))
        model_line(task.model)
        sign_in_button()
        with gr.Row():
            with gr.Column():
                image = gr.Image(label=ui("caption_image"), type="filepath")
                caption_button = gr.Button(ui("caption_button"), variant="primary")
            caption = gr.Textbox(label=ui("caption_output"))
        gr.on(
            [caption_button.click, image.upload],
            fn=task.caption,
            inputs=image,
            outputs=caption,
            api_name="caption",
            **RAW_UPLOAD,
        )
        # Picking one captions it, as an upload does (after the event above, which is /caption).
        gr.Examples(
            EXAMPLES,
            inputs=image,
            outputs=caption,
            fn=task.caption,
            run_on_click=True,
            cache_examples=False,
            api_visibility="private",
            label=ui("examples"),
            **RAW_UPLOAD,
        )
    return ready_to_serve(demo, settings, "caption")


demo = build_demo()

if __name__ == "__main__":
    launch(demo)
