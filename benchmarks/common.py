"""What every benchmark script shares: epoch timing, images/s, the results header and
writing the results files."""

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import keras
import tensorflow as tf

import keras_gen


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time and the process's CPU time (all threads) of each epoch of ``fit``."""

    def __init__(self):
        super().__init__()
        self.seconds = []
        self.cpu_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
        self.cpu_seconds.append(time.process_time() - self.cpu_start)


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


def fit_runner(model, data, steps):
    """A function timing ``steps`` steps of ``model.fit``: returns (wall, CPU) seconds."""
    timer = EpochTimer()

    def run():
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
        return timer.seconds[-1], timer.cpu_seconds[-1]

    return run


def loop_runner(step, data, steps):
    """A function timing ``steps`` calls of ``step(batch)`` over the (repeated) dataset."""
    batches = iter(data)

    def run():
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(steps):
            outputs = step(next(batches))
        keras.ops.convert_to_numpy(tf.nest.flatten(outputs)[0])  # wait for the last step
        return time.perf_counter() - start, time.process_time() - cpu_start

    return run


def interleaved_rates(runners, rounds, images_per_round):
    """Runs each runner once (tracing), then ``rounds`` timed rounds, interleaved so that
    load from other processes hits all alike. Returns, per runner name, the median
    images/s, the images/s of each round, and the median CPU milliseconds per image."""
    for run in runners.values():
        run()
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            times[name].append(run())
    results = {}
    for name, pairs in times.items():
        walls, cpus = zip(*pairs)
        results[name] = {
            "images_per_s": round(images_per_round / statistics.median(walls)),
            "rounds_images_per_s": [round(images_per_round / t) for t in walls],
            "cpu_ms_per_image": round(1000 * statistics.median(cpus) / images_per_round, 3),
        }
    return results


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


def benchmark_parser(doc):
    """The flags every benchmark takes: ``--quick``, ``--seed``, ``--out``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the script, measures nothing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    return parser
