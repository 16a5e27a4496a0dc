"""PixelCNN benchmark: exact test NLL after a stated number of epochs, and the time to
sample 64 MNIST-sized images with the compiled sampler against the naive loop.

    python benchmarks/pixelcnn.py            # full run (about 25 minutes on 2 busy CPU cores)
    python benchmarks/pixelcnn.py --quick    # a smoke run of the same code

1. Likelihood: the recipe's default PixelCNN (32 filters, 8 residual blocks, Bernoulli
   output, 5 epochs), trained with ``fit`` on the bundled MNIST train split
   (8,000 images) binarized once with the seed ("static"), scored on the 2,000 test
   images binarized the same way: the exact NLL in nats per image and bits/dim.
2. Sampling: 64 images of 28x28 from the trained default model, in the same process:
   - ``compiled``: ``model.sample`` (one ``tf.function`` while loop over the 784 pixels,
     each step running the network on the window the pixel sees); median of 3 rounds
     after a tracing round;
   - ``compiled, full canvas``: the same loop running the network on the whole canvas at
     every step (the window switched off), one round: what the window alone buys;
   - ``naive``: one ``network.predict`` call per pixel on the whole canvas, in Python,
     one round. It draws with the same stateless random numbers, so it must give the
     very same images, which is checked.

Writes benchmarks/results/pixelcnn.{md,json} and prints the tables.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras
import numpy as np
import tensorflow as tf

from common import benchmark_parser, header, write_results
from keras_gen import datasets
from keras_gen.autoregressive import exact_nll
from keras_gen.pixelcnn import build_pixelcnn


def likelihood(gated, epochs, seed, limit, filters=32, num_layers=8):
    keras.utils.set_random_seed(seed)
    train, info = datasets.load("mnist", batch_size=64, seed=seed, limit=limit, binarize="static", with_info=True)
    test, test_info = datasets.load("mnist", split="test", batch_size=500, shuffle=False, binarize="static",
                                    seed=seed, limit=limit, with_info=True)
    model = build_pixelcnn(filters=filters, num_layers=num_layers, gated=gated)
    start = time.perf_counter()
    history = model.fit(train, epochs=epochs, validation_data=test, verbose=0)
    seconds = time.perf_counter() - start
    result = exact_nll(model, test)
    row = {
        "model": f"PixelCNN{' gated' if gated else ''}, {filters} filters, {num_layers} blocks",
        "params": model.count_params(), "source": info.source.split(" (")[0], "binarization": "static (seed)",
        "train_images": info.num_examples, "test_images": test_info.num_examples, "epochs": epochs,
        "batch_size": 64, "seed": seed, "train_seconds": round(seconds, 1),
        "test_nll_by_epoch": [round(v, 2) for v in history.history["val_loss"]],
        "nll": round(result["nll"], 2), "nll_std_error": round(result["nll_std_error"], 2),
        "bits_per_dim": round(result["bits_per_dim"], 4),
    }
    print(row, flush=True)
    return model, row


def naive_sample(network, num, seed, shape):
    """One ``predict`` per pixel on the whole canvas; the same stateless draws as the sampler."""
    height, width, _ = shape
    canvas = np.zeros((num,) + tuple(shape), np.float32)
    for i in range(height * width):
        row, column = divmod(i, width)
        logits = network.predict(canvas, verbose=0)[:, row, column, 0]
        u = tf.random.stateless_uniform((num,), tf.constant([seed, i], tf.int64))
        canvas[:, row, column, 0] = (u < tf.sigmoid(logits)).numpy()
    return canvas


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def sampling(model, num, seed, rounds):
    trace_seconds, _ = timed(lambda: model.sample(num, seed=seed))
    compiled = [timed(lambda: model.sample(num, seed=seed)) for _ in range(rounds)]
    images = compiled[0][1]
    naive_seconds, naive_images = timed(lambda: naive_sample(model.network, num, seed, model.image_shape))
    window = model.receptive_field
    model.receptive_field = model.image_shape[:2]  # every window is the whole canvas
    model._samplers.clear()
    model.sample(num, seed=seed)  # trace
    full_seconds, full_images = timed(lambda: model.sample(num, seed=seed))
    model.receptive_field = window
    model._samplers.clear()
    compiled_seconds = float(np.median([t for t, _ in compiled]))
    row = {
        "images": num, "image_shape": list(model.image_shape), "pixel_steps": int(np.prod(model.image_shape)),
        "window_rows_up_columns_each_side": list(window),
        "compiled_seconds": round(compiled_seconds, 2), "compiled_rounds": [round(t, 2) for t, _ in compiled],
        "compiled_first_call_seconds_with_tracing": round(trace_seconds, 2),
        "compiled_full_canvas_seconds": round(full_seconds, 2),
        "naive_predict_per_pixel_seconds": round(naive_seconds, 2),
        "speedup_over_naive": round(naive_seconds / compiled_seconds, 1),
        "speedup_full_canvas_over_naive": round(naive_seconds / full_seconds, 1),
        "naive_gives_same_images": bool(np.array_equal(images, naive_images)),
        "full_canvas_gives_same_images": bool(np.array_equal(images, full_images)),
    }
    print(row, flush=True)
    return row


def markdown(rows, speed, head):
    lines = [head, "",
             "Exact test NLL (bundled MNIST: 8,000 train / 2,000 test images, binarized once with the seed)", "",
             "| model | params | epochs (batch 64) | train time (s) | test NLL (nats/image) | bits/dim "
             "| test NLL by epoch |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['epochs']} | {r['train_seconds']} | "
                     f"{r['nll']:.2f} +- {r['nll_std_error']:.2f} | {r['bits_per_dim']:.4f} | "
                     f"{', '.join(f'{v:.1f}' for v in r['test_nll_by_epoch'])} |")
    lines += ["", "Published anchor: 81.30 nats, PixelCNN on statically binarized MNIST with 60,000 train images "
              "(van den Oord et al. 2016); not the same data or budget.", "",
              f"Time to sample {speed['images']} images of {speed['image_shape']} "
              f"({speed['pixel_steps']} pixel steps), trained default model:", "",
              "| sampler | seconds | speed-up over naive | same images as compiled |", "| --- | --- | --- | --- |",
              f"| compiled `model.sample` (windows of {speed['window_rows_up_columns_each_side'][0]} rows up, "
              f"{speed['window_rows_up_columns_each_side'][1]} columns each side; median of "
              f"{len(speed['compiled_rounds'])}) | {speed['compiled_seconds']} | {speed['speedup_over_naive']}x | - |",
              f"| compiled loop, whole canvas every step | {speed['compiled_full_canvas_seconds']} | "
              f"{speed['speedup_full_canvas_over_naive']}x | {speed['full_canvas_gives_same_images']} |",
              f"| naive: one `predict` per pixel | {speed['naive_predict_per_pixel_seconds']} | 1x | "
              f"{speed['naive_gives_same_images']} |",
              "", "The compiled sampler's first call, tracing included: "
              f"{speed['compiled_first_call_seconds_with_tracing']} s."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = benchmark_parser(__doc__).parse_args(argv)
    quick = args.quick
    epochs = 1 if quick else 5
    limit = 512 if quick else None
    load_before = os.getloadavg()
    model, row = likelihood(False, epochs, args.seed, limit, **(dict(filters=8, num_layers=1) if quick else {}))
    rows = [row]
    speed = sampling(model, 8 if quick else 64, args.seed, rounds=1 if quick else 3)
    load = [round(v, 1) for v in load_before + os.getloadavg()]
    head = header("pixelcnn.py", args.seed, quick) + (
        ". 1-minute load average of the machine (2 cores, shared with other jobs) at start / end: "
        f"{load[0]} / {load[3]}.")
    table = markdown(rows, speed, head)
    print(table)
    if not quick:
        write_results(args.out, "pixelcnn", table,
                      {"header": head, "load_average_start_end": load, "likelihood": rows, "sampling": speed})


if __name__ == "__main__":
    main()
