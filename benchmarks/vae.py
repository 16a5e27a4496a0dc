"""VAE benchmark: test likelihood and training throughput.

    python benchmarks/vae.py                 # full run (about 25 minutes on 2 CPU cores)
    python benchmarks/vae.py --quick         # a smoke run of the same code

1. Likelihood: dense (the default, 784-512-z) and conv VAEs with a Bernoulli decoder,
   trained with ``fit`` on dynamically binarized train images and scored on the test
   split binarized once (seed 0): negative ELBO (closed-form KL) and the
   importance-weighted NLL with K samples per image (Burda et al. 2016), in nats per
   image and bits/dim, mean over every test image.
2. Speed: images/s of the conv VAE's ``fit`` against a plain hand-written
   ``tf.function`` loop of the same encoder, decoder, loss (BCE summed over pixels +
   closed-form KL) and optimizer, on the same tf.data pipeline, in the same process:
   after a tracing round each, interleaved timed rounds of N steps (so load from other
   processes hits both alike); the median round is reported. ``fit`` runs twice: as
   built (one step per call of the compiled function, Keras's default) and compiled with
   ``steps_per_execution=20`` (20 steps inside one call: less Python and callback work
   per step). Each fit round is one epoch of N steps, so its fixed cost per epoch (a new
   iterator, callbacks) is counted: N = 300 is close to a real epoch (469 steps of 128 images).
   The loop's round is an epoch too (``for batch in data.take(N)``: a new iterator per
   round, since 2026-12-02; the results file's run, before that, kept one iterator).

Writes benchmarks/results/vae.{md,json} and prints the tables.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras
import tensorflow as tf

from common import benchmark_parser, fit_runner, header, interleaved_rates, loop_runner, write_results
from keras_gen import build_vae, datasets, evaluate_likelihood
from keras_gen.losses import bernoulli_nll, gaussian_kl

STEPS_PER_EXECUTION = 20


def likelihood(dataset, architecture, latent_dim, epochs, seed, limit, num_samples):
    keras.utils.set_random_seed(seed)
    train, info = datasets.load(dataset, batch_size=128, seed=seed, limit=limit, binarize="dynamic", with_info=True)
    test, test_info = datasets.load(dataset, split="test", batch_size=500, shuffle=False, binarize="static",
                                    seed=seed, limit=limit, with_info=True)
    vae = build_vae(info.image_shape, latent_dim=latent_dim, architecture=architecture, seed=seed)
    start = time.perf_counter()
    vae.fit(train, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    result = evaluate_likelihood(vae, test, num_samples=num_samples, seed=seed)
    row = {
        "model": f"{architecture} VAE", "latent_dim": latent_dim, "dataset": dataset,
        "source": info.source.split(" (")[0], "train_images": info.num_examples,
        "test_images": test_info.num_examples, "epochs": epochs, "train_seconds": round(seconds, 1),
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()},
    }
    print(row, flush=True)
    return row


def throughput(rounds, steps, batch_size, seed):
    data = datasets.load("fashion_mnist", batch_size=batch_size, seed=seed, drop_remainder=True,
                         limit=min(2 * steps * batch_size, 60000)).repeat()

    keras.utils.set_random_seed(seed)
    fit = fit_runner(build_vae(architecture="conv", seed=seed), data, steps)
    keras.utils.set_random_seed(seed)
    vae = build_vae(architecture="conv", seed=seed)
    vae.compile(optimizer="adam", steps_per_execution=STEPS_PER_EXECUTION)
    fit_many = fit_runner(vae, data, steps)

    # The same networks, loss and optimizer in a plain hand-written loop.
    keras.utils.set_random_seed(seed)
    model = build_vae(architecture="conv", seed=seed)
    encoder, decoder = model.encoder, model.decoder
    weights = encoder.trainable_weights + decoder.trainable_weights
    optimizer = keras.optimizers.Adam()

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = encoder(x, training=True)
            loss = tf.reduce_mean(bernoulli_nll(x, decoder(z, training=True)) + gaussian_kl(z_mean, z_log_var))
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    results = interleaved_rates({"fit": fit, "fit_many": fit_many, "loop": loop_runner(train_step, data, steps)},
                                rounds, steps * batch_size)
    row = {
        "batch_size": batch_size, "steps_per_round": steps, "rounds": rounds,
        "fit_images_per_s": results["fit"]["images_per_s"], "loop_images_per_s": results["loop"]["images_per_s"],
        "fit_rounds": results["fit"]["rounds_images_per_s"], "loop_rounds": results["loop"]["rounds_images_per_s"],
        "fit_cpu_ms_per_image": results["fit"]["cpu_ms_per_image"],
        "loop_cpu_ms_per_image": results["loop"]["cpu_ms_per_image"],
        "fit_over_loop": round(results["fit"]["images_per_s"] / results["loop"]["images_per_s"], 3),
        "steps_per_execution": STEPS_PER_EXECUTION, "fit_many_images_per_s": results["fit_many"]["images_per_s"],
        "fit_many_rounds": results["fit_many"]["rounds_images_per_s"],
        "fit_many_cpu_ms_per_image": results["fit_many"]["cpu_ms_per_image"],
        "fit_many_over_loop": round(results["fit_many"]["images_per_s"] / results["loop"]["images_per_s"], 3),
    }
    print(row, flush=True)
    return row


def markdown(rows, speed_rows, head):
    lines = [head, "", "| model | dataset | train / test images | epochs | train time (s) | test -ELBO (nats) "
             "| test IW-NLL (nats), K | bits/dim (IW-NLL) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']}, z={r['latent_dim']} | {r['dataset']} ({r['source']}) | {r['train_images']} / "
                     f"{r['test_images']} | {r['epochs']} | {r['train_seconds']} | {r['negative_elbo']:.2f} | "
                     f"{r['iw_nll']:.2f}, K={r['num_samples']} | {r['iw_nll_bits_per_dim']:.4f} |")
    lines += ["", "| conv VAE, batch | rounds x steps | fit (images/s) | fit, steps_per_execution=20 (images/s) "
              "| hand-written tf.function loop (images/s) | fit / loop | fit (spe 20) / loop "
              "| CPU ms per image: fit / fit (spe 20) / loop |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in speed_rows:
        lines.append(f"| {r['batch_size']} | {r['rounds']} x {r['steps_per_round']} | {r['fit_images_per_s']} | "
                     f"{r['fit_many_images_per_s']} | {r['loop_images_per_s']} | {r['fit_over_loop']:.2f}x | "
                     f"{r['fit_many_over_loop']:.2f}x | {r['fit_cpu_ms_per_image']} / "
                     f"{r['fit_many_cpu_ms_per_image']} / {r['loop_cpu_ms_per_image']} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = benchmark_parser(__doc__).parse_args(argv)
    quick = args.quick
    limit = 1024 if quick else None
    k = 5 if quick else 100

    rows = []
    for architecture in ("dense", "conv"):
        rows.append(likelihood("fashion_mnist", architecture, 16, epochs=1 if quick else 10, seed=args.seed,
                               limit=limit, num_samples=k))
        rows.append(likelihood("mnist", architecture, 16, epochs=1 if quick else 50, seed=args.seed,
                               limit=limit, num_samples=k))
    rows.append(likelihood("mnist", "dense", 2, epochs=1 if quick else 30, seed=args.seed, limit=limit,
                           num_samples=k))
    speed_rows = [throughput(rounds=1 if quick else 5, steps=20 if quick else 300, batch_size=128, seed=args.seed)]
    head = header("vae.py", args.seed, quick)
    table = markdown(rows, speed_rows, head)
    print(table)
    if not quick:
        write_results(args.out, "vae", table, {"header": head, "likelihood": rows, "throughput": speed_rows})


if __name__ == "__main__":
    main()
