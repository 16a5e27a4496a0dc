"""What every benchmark script shares: epoch timing, images/s, the results header and
writing the results files."""

import argparse
import collections
import datetime
import json
import os
import platform
import shlex
import statistics
import time
from pathlib import Path

import keras
import tensorflow as tf
from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.profiler.internal import flops_registry  # noqa: F401  (registers the FLOP counts)

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
    """A function timing one epoch of ``steps`` calls of ``step(batch)``: like an epoch of
    ``fit`` (``fit_runner``'s round), each round opens a new iterator of the dataset, which
    fills its shuffle buffer. As with ``fit``, whose iterator outlives its epoch's timer,
    the iterator is released after the clock stops: its destruction can wait for
    tf.data's autotuning thread (seen here: up to 2 s, the round then ending about 10.2 s
    after the iterator opened). Returns (wall, CPU) seconds."""

    def run():
        start, cpu_start = time.perf_counter(), time.process_time()
        batches = iter(data)
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


# ------------------------------------------------------------- machine, matmul peak, FLOPs


def machine():
    """CPU model and core count of this machine, e.g. ``"Intel(R) Xeon(R) Processor, 2 cores"``."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                  if line.startswith("model name")]
        name = models[0] if models else name
    return f"{name}, {os.cpu_count()} cores"


def dated_header(script, argv, seed, note=None):
    """``header`` with the date (UTC), the machine and the exact command (``argv`` quoted)."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    line = header(shlex.join([script, *argv]), seed, quick=False)
    return f"{date}, {machine()}. {line}" + (f". {note}" if note else "")


def matmul_peak_gflops(size=2048, repeats=5):
    """Measured float32 matmul peak of this machine in GFLOP/s: the best of ``repeats``
    timed ``size x size`` products (2 size**3 FLOPs each) in one ``tf.function``, after
    a warm-up call."""
    if not isinstance(size, int) or size < 1 or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"size and repeats must be integers >= 1, got {size!r} and {repeats!r}.")
    a = tf.random.stateless_normal((size, size), seed=(0, 1))
    b = tf.random.stateless_normal((size, size), seed=(0, 2))
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))  # the sum: a scalar to wait on
    float(product(a, b))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        float(product(a, b))
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


LOOP_OPS = ("PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile")


def _live_ops(graph):
    """Operations the function really runs: those its outputs and its stateful updates
    (control outputs) depend on. TensorFlow prunes the rest (e.g. the unused gradient
    with respect to the input images) before running a function."""
    todo, live = [t.op for t in graph.outputs] + list(graph.control_outputs), set()
    while todo:
        op = todo.pop()
        if op.name not in live:
            live.add(op.name)
            todo.extend(t.op for t in op.inputs)
            todo.extend(op.control_inputs)
    return [op for op in graph.get_operations() if op.name in live]


def _conv_backprop_flops(graph, op):
    """2 x MACs of Conv2DBackpropInput/Filter, exact for any padding: one multiply-add
    per element of the output gradient and kernel tap (TensorFlow's registry assumes
    'same' padding)."""
    out_backprop = op.inputs[2].shape
    kernel = op.outputs[0].shape if op.type == "Conv2DBackpropFilter" else op.inputs[1].shape
    return 2 * out_backprop.num_elements() * kernel.num_elements() // kernel[-1]


def train_step_flops(model, element_spec, batch_size):
    """FLOPs of one ``model.train_step`` on a batch of ``batch_size``, counted on its graph.

    ``train_step`` is traced (not run) in a ``tf.function`` for batches shaped like
    ``element_spec`` (a dataset's) with ``batch_size`` rows. Each operation TensorFlow
    would run is counted with TensorFlow's FLOP registry (the one ``tf.profiler``'s
    ``float_operation`` uses: 2 x MACs for MatMul and Conv2D, one per element for
    element-wise ops), with exact formulas for the backward convolutions, which the
    registry counts only for 'same' padding. Dead operations are left out. Ops without
    a registered count (pooling argmax, random draws, ...) count 0.

    Returns:
        A dict: ``total`` FLOPs of the step, ``by_type`` (op type -> FLOPs).

    Raises:
        ValueError: for a graph with function calls or loops, whose work would be missed.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
    spec = tf.nest.map_structure(lambda s: tf.TensorSpec((batch_size, *s.shape[1:]), s.dtype), element_spec)
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    by_type = collections.Counter()
    for op in _live_ops(graph):
        if op.type in LOOP_OPS:
            raise ValueError(f"the train step holds a {op.type} op ({op.name}) whose FLOPs cannot be counted.")
        if op.type in ("Conv2DBackpropInput", "Conv2DBackpropFilter"):
            flops = _conv_backprop_flops(graph, op)
        else:
            try:
                flops = tf_ops.get_stats_for_node_def(graph, op.node_def, "flops").value
            except ValueError:  # no FLOP count registered for this op type
                flops = None
        if flops:
            by_type[op.type] += int(flops)
    return {"total": sum(by_type.values()), "by_type": dict(by_type)}


def write_throughput(out, name, head, protocol, results, fit_name):
    """Prints and writes the table of a fit-against-loop throughput benchmark
    (``interleaved_rates`` results; ``fit_name`` is the ``fit`` variant's key) to
    ``out/<name>.{md,json}``. Returns fit's images/s over the hand-written loop's."""
    lines = [head, "", protocol, "", "| variant | images/s | CPU ms per image | images/s per round |",
             "| --- | --- | --- | --- |"]
    for variant, r in results.items():
        lines.append(f"| {variant} | {r['images_per_s']} | {r['cpu_ms_per_image']:.2f} | {r['rounds_images_per_s']} |")
    loop = results["hand-written tf.function loop"]
    ratio = results[fit_name]["images_per_s"] / loop["images_per_s"]
    fit_rounds = results[fit_name]["rounds_images_per_s"]
    paired = [mine / theirs for mine, theirs in zip(fit_rounds, loop["rounds_images_per_s"])]
    ahead = sum(r >= 1.0 for r in paired)
    lines += ["", f"fit / loop: {ratio:.2f} (medians); per round, fit over the loop's round that ran next to it: "
              f"median {statistics.median(paired):.2f}, range {min(paired):.2f}..{max(paired):.2f}, "
              f"fit at least as fast in {ahead} of {len(paired)} rounds"]
    table = "\n".join(lines) + "\n"
    print(table)
    write_results(out, name, table, {"header": head, "protocol": protocol, "results": results,
                                     "fit_over_loop": round(ratio, 3),
                                     "fit_over_loop_per_round": [round(r, 3) for r in paired]})
    return ratio

