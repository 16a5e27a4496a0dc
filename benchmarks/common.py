"""What every benchmark script shares: epoch timing, images/s, the results header and
writing the results files."""

import json
import platform
import time

import keras
import tensorflow as tf

import keras_gen


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of each epoch of ``fit``."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def images_per_second(epoch_seconds, images_per_epoch):
    """Throughput over the epochs after the first (which includes tracing)."""
    timed = epoch_seconds[1:]
    return images_per_epoch * len(timed) / sum(timed)


def time_loop(step, dataset, epochs):
    """Wall time of each epoch of a hand-written loop calling ``step(batch)``."""
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        for batch in dataset:
            result = step(batch)
        float(result)  # wait for the last step
        seconds.append(time.perf_counter() - start)
    return seconds


def header(script, seed, quick):
    return (
        f"keras_gen {keras_gen.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"{platform.processor() or platform.machine()}, {len(tf.config.list_physical_devices('GPU'))} GPU, "
        f"seed {seed}{', QUICK RUN (not a measurement)' if quick else ''}. "
        f"Command: python benchmarks/{script}" + (" --quick" if quick else "")
    )


def write_results(out, name, table, payload):
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.md").write_text(table)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out / name}.md and .json")
