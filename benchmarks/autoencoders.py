"""Autoencoder benchmark: test reconstruction loss and training throughput.

    python benchmarks/autoencoders.py                 # full run (about 20 minutes on 2 CPU cores)
    python benchmarks/autoencoders.py --quick         # a smoke run of the same code

1. Quality: each autoencoder (dense, conv, 2-D latent, denoising) is trained with
   ``fit`` on the train split and scored on the test split: binary cross-entropy per
   pixel, mean over every test image. For the denoising autoencoder the score is on
   noisy test inputs (gaussian, stddev 0.5, seed 1) against the clean images.
2. Speed: images/s of the conv autoencoder's ``fit`` against a plain hand-written
   ``tf.function`` training loop of the same network, loss, optimizer and tf.data
   pipeline, in the same process; epochs after the first (tracing) epoch are timed.

Writes benchmarks/results/autoencoders.{md,json} and prints the tables.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras
import tensorflow as tf

from common import EpochTimer, benchmark_parser, header, images_per_second, time_loop, write_results
from keras_gen import corrupt, datasets
from keras_gen.autoencoders import (
    build_conv_autoencoder,
    build_denoising_autoencoder,
    build_dense_autoencoder,
    build_latent2d_autoencoder,
)

BUILDERS = {
    "dense (784-32-784)": build_dense_autoencoder,
    "conv ((7, 7, 32) code)": build_conv_autoencoder,
    "2-D latent (784-512-2-512-784)": build_latent2d_autoencoder,
    "denoising conv (gaussian 0.5)": build_denoising_autoencoder,
}


def quality(dataset, epochs, batch_size, seed, limit):
    rows = []
    train, info = datasets.load(dataset, batch_size=batch_size, seed=seed, limit=limit, with_info=True)
    test, test_info = datasets.load(dataset, split="test", batch_size=512, shuffle=False, with_info=True)
    train, test = datasets.as_autoencoder_pairs(train), datasets.as_autoencoder_pairs(test)
    noisy_test = test.map(lambda x, y: (corrupt(x, "gaussian", 0.5, seed=1), y))
    for name, builder in BUILDERS.items():
        keras.utils.set_random_seed(seed)
        autoencoder, _, _ = builder(info.image_shape)
        start = time.perf_counter()
        autoencoder.fit(train, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        scored_on = noisy_test if "denoising" in name else test
        loss = autoencoder.evaluate(scored_on, verbose=0)
        rows.append({
            "model": name, "dataset": dataset, "train_images": info.num_examples,
            "test_images": test_info.num_examples, "epochs": epochs, "test_bce_per_pixel": round(loss, 4),
            "train_seconds": round(seconds, 1), "source": info.source.split(" (")[0],
        })
        print(rows[-1], flush=True)
    return rows


def throughput(epochs, batch_size, seed, limit, jit_compile):
    train = datasets.as_autoencoder_pairs(
        datasets.load("fashion_mnist", batch_size=batch_size, seed=seed, limit=limit, drop_remainder=True)
    )
    images = (limit // batch_size) * batch_size

    keras.utils.set_random_seed(seed)
    autoencoder, _, _ = build_conv_autoencoder()
    autoencoder.compile(optimizer="adam", loss="binary_crossentropy", jit_compile=jit_compile)
    timer = EpochTimer()
    autoencoder.fit(train, epochs=epochs, verbose=0, callbacks=[timer])
    fit_rate = images_per_second(timer.seconds, images)

    # The same network, loss and optimizer in a plain hand-written loop.
    keras.utils.set_random_seed(seed)
    model, _, _ = build_conv_autoencoder()
    optimizer = keras.optimizers.Adam()
    loss_fn = keras.losses.BinaryCrossentropy()

    @tf.function(jit_compile=jit_compile)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        return loss

    loop_rate = images_per_second(time_loop(lambda batch: train_step(*batch), train, epochs), images)
    row = {
        "jit_compile": jit_compile, "batch_size": batch_size, "images_per_epoch": images,
        "timed_epochs": epochs - 1, "fit_images_per_s": round(fit_rate), "loop_images_per_s": round(loop_rate),
        "fit_over_loop": round(fit_rate / loop_rate, 3),
    }
    print(row, flush=True)
    return row


def markdown(quality_rows, speed_rows, header):
    lines = [header, "", "| model | dataset | train / test images | epochs | test BCE per pixel | train time (s) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in quality_rows:
        lines.append(f"| {r['model']} | {r['dataset']} ({r['source']}) | {r['train_images']} / {r['test_images']} "
                     f"| {r['epochs']} | {r['test_bce_per_pixel']:.4f} | {r['train_seconds']} |")
    lines += ["", "| conv AE, batch | XLA | fit (images/s) | hand-written tf.function loop (images/s) | fit / loop |",
              "| --- | --- | --- | --- | --- |"]
    for r in speed_rows:
        lines.append(f"| {r['batch_size']} | {r['jit_compile']} | {r['fit_images_per_s']} | "
                     f"{r['loop_images_per_s']} | {r['fit_over_loop']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = benchmark_parser(__doc__).parse_args(argv)
    quick = args.quick

    quality_rows = []
    quality_rows += quality("fashion_mnist", epochs=1 if quick else 5, batch_size=128, seed=args.seed,
                            limit=1024 if quick else None)
    quality_rows += quality("mnist", epochs=1 if quick else 20, batch_size=128, seed=args.seed,
                            limit=1024 if quick else None)
    speed_rows = [
        throughput(epochs=2 if quick else 4, batch_size=128, seed=args.seed, limit=1024 if quick else 20480,
                   jit_compile=jit)
        for jit in (False, True)
    ]
    head = header("autoencoders.py", args.seed, quick)
    table = markdown(quality_rows, speed_rows, head)
    print(table)
    if not quick:
        write_results(args.out, "autoencoders", table,
                      {"header": head, "quality": quality_rows, "throughput": speed_rows})

if __name__ == "__main__":
    main()
