"""Faster loading of Rasa's TensorFlow models (DIET, TED).

Rasa builds a loaded model's weights by fitting it on one example before restoring the trained weights. In graph
mode that traces the whole training step, including the CRF entity loss and its gradients: ~35 s per DIET model
here, so eight models took minutes to load. Running that single throw-away step eagerly builds the same variables
in ~1 s. Inference is unchanged: it still runs as a traced ``tf.function`` unless the model's own config says
``run_eagerly``. Covered by tests/test_fastload.py (same predictions with and without).
"""

from __future__ import annotations

from typing import Any

_installed = False


def install() -> None:
    """Patch ``RasaModel.load`` once per process (finetuning keeps Rasa's own path)."""
    global _installed
    if _installed:
        return
    import tensorflow as tf
    from rasa.utils.tensorflow import models
    from rasa.utils.tensorflow.constants import LEARNING_RATE
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator

    original = models.RasaModel.load.__func__

    def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Any = None,
             finetune_mode: bool = False, *args: Any, **kwargs: Any) -> Any:
        if finetune_mode:
            return original(cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                            *args, **kwargs)
        model = cls(*args, **kwargs)
        learning_rate = kwargs.get("config", {}).get(LEARNING_RATE, 0.001)
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), run_eagerly=True)
        model.fit(RasaBatchDataGenerator(model_data_example, batch_size=1), verbose=False)
        model.run_eagerly = False  # keras would otherwise run every later call eagerly (9 ms → 80 ms a parse)
        model.load_weights(model_file_name)
        if predict_data_example:
            model.run_inference(predict_data_example)
        return model

    models.RasaModel.load = classmethod(load)
    _installed = True
