"""The benchmark harness: every keras_gen model trained on one dataset for the same wall-time
budget, scored at several points during training, in one command.

    python benchmarks/harness.py                                  # all 10 models, 110 s each: about 22 minutes
    python benchmarks/harness.py --models dcgan wgan_gp --budget-seconds 300
    python benchmarks/harness.py --dataset mnist                  # the bundled MNIST (8,000 / 2,000 images)
    python benchmarks/harness.py --quick --out /tmp/harness       # a smoke run of the same code

Each model is trained with ``fit`` until its training wall time reaches --budget-seconds
(a callback sets ``model.stop_training``). The training time counts the steps after the
first one, which traces the train function and is timed apart. At --eval-points times
spread evenly over the budget the training clock is paused and the model is scored on
the test split:

- autoencoders: the compiled loss (binary cross-entropy per pixel) on the test split, for
  the denoising autoencoder on test images corrupted once (gaussian, stddev 0.5, seed+1);
- VAEs (Bernoulli decoder, pixels binarized: dynamic on train, static with the seed on
  test): the test negative ELBO from ``evaluate`` (one z per image), nats/image and
  bits/dim; at the end also ``evaluate_likelihood`` (negative ELBO and importance-weighted
  NLL with K=--iw-samples);
- GANs: ``evaluate_samples`` of --num-samples generated images (the same z each time)
  against as many test images (a seeded subset): FID, KID, classifier score, precision,
  recall, classes covered, and the conditional accuracy of the conditional GAN, all on
  the shipped domain classifier's features (not InceptionV3);
- PixelCNN (pixels binarized once with the seed): the exact test NLL of the first
  --num-samples test images, nats/image and bits/dim.

Speed: training images/s over the steps after the first, scoring excluded; FLOPs per
training image counted on the graph of one ``train_step`` (``common.train_step_flops``:
TensorFlow's FLOP registry on the operations that run, backward passes, every
discriminator step and the gradient penalty included), hence the achieved GFLOP/s,
against the float32 matmul peak measured on this machine (2048 x 2048, best of 5,
before and after the models; the higher is used).

Models (--models, default all but xICFG and dcgan_radford): dense_autoencoder,
conv_autoencoder, denoising_autoencoder, vae, conditional_vae, gan, dcgan,
conditional_gan, wgan_gp, pixelcnn, and xicfg_conv, xicfg_dense (raced by
``xicfg_race.py``) and dcgan_radford (the classic preset, for comparison); their
settings and batch sizes are in the table (the recipes' defaults: the GANs' default
presets; latent 16 for the VAEs).
--quick: 3 s budgets, 512 train images, 200 samples, 2 points, K=5.

The whole default run: about 22 minutes on 2 idle cores (1,100 s of training, about
3 minutes of scoring, tracing and loading); more when other jobs share the machine.
Writes --out/harness.{md,json,png} (default benchmarks/results/; with --quick only
when --out is given) and prints the table.
"""

import dataclasses
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from common import benchmark_parser, dated_header, matmul_peak_gflops, train_step_flops, write_results  # noqa: E402
from keras_gen import (  # noqa: E402
    build_conditional_gan,
    build_conditional_vae,
    build_conv_autoencoder,
    build_dcgan,
    build_denoising_autoencoder,
    build_dense_autoencoder,
    build_gan,
    build_vae,
    build_wgan_gp,
    build_xicfg,
    corrupt,
    datasets,
    evaluate_likelihood,
)
from keras_gen.autoregressive import exact_nll  # noqa: E402
from keras_gen.gan import PRESETS, describe_settings  # noqa: E402
from keras_gen.metrics import bits_per_dim, evaluate_samples  # noqa: E402
from keras_gen.pixelcnn import build_pixelcnn  # noqa: E402
from keras_gen.plotting import plot_image_grid  # noqa: E402

MIN_TIMED_STEPS = 3  # steps run after the first (tracing) one even when the budget is used up


@dataclasses.dataclass
class Spec:
    """One model of the harness: its family (how it is fed and scored), builder, batch size
    and the settings as printed in the table."""

    family: str
    build: object  # seed -> compiled model
    batch_size: int
    settings: str


def _preset(family, build, preset="default", **extra):
    """The Spec of a GAN builder with one of its presets (``keras_gen.gan.PRESETS``)."""
    settings = PRESETS[family][preset]
    return Spec("gan", lambda seed: build(seed=seed, preset=preset, **extra), settings["batch_size"],
                f"preset {preset}: {describe_settings(settings)}")


MODELS = {
    "dense_autoencoder": Spec("autoencoder", lambda seed: build_dense_autoencoder()[0], 128,
                              "784-32-784, Adam, BCE"),
    "conv_autoencoder": Spec("autoencoder", lambda seed: build_conv_autoencoder()[0], 128,
                             "(7, 7, 32) code, Adam, BCE"),
    "denoising_autoencoder": Spec("autoencoder", lambda seed: build_denoising_autoencoder(seed=seed)[0], 128,
                                  "conv AE, gaussian noise 0.5, Adam, BCE"),
    "vae": Spec("vae", lambda seed: build_vae(latent_dim=16, seed=seed), 128,
                "dense 784-512-16, Bernoulli, Adam"),
    "conditional_vae": Spec("vae", lambda seed: build_conditional_vae(latent_dim=16, num_classes=10, seed=seed), 128,
                            "dense 784-512-16 + one-hot label, Bernoulli, Adam"),
    "gan": _preset("gan", build_gan),
    "dcgan": _preset("dcgan", build_dcgan),
    "dcgan_radford": _preset("dcgan", build_dcgan, "radford"),
    "conditional_gan": _preset("conditional_gan", build_conditional_gan, num_classes=10),
    "wgan_gp": _preset("wgan_gp", build_wgan_gp),
    "pixelcnn": Spec("pixelcnn", lambda seed: build_pixelcnn(filters=32, num_layers=8), 64,
                     "32 filters, 8 residual blocks, Bernoulli, Adam"),
    "xicfg_conv": Spec("gan", lambda seed: build_xicfg(seed=seed), 64,
                       "xICFG, G~ DCGAN (BN) filters 64, D DCGAN without BN, z 100, T 15, U 1, eta 0.5, "
                       "N 640, RMSprop(2.5e-4, 0.95)"),
    "xicfg_dense": Spec("gan", lambda seed: build_xicfg(approximator="dense", seed=seed), 64,
                        "xICFG, G~ dense 4x512 with shortcuts, D DCGAN without BN, z 100, T 25, U 1, eta 2.5, "
                        "N 640, RMSprop(2.5e-4, 0.95)"),
}
DEFAULT_MODELS = [name for name in MODELS if not name.startswith("xicfg") and name != "dcgan_radford"]

LEGEND_NOTES = {"denoising_autoencoder": ", noisy test inputs", "conditional_vae": ", -log p(x|y)"}
PRIMARY = {  # family -> (metric plotted against time, axis label)
    "autoencoder": ("test_loss", "test loss (BCE per pixel)"),
    "vae": ("negative_elbo", "test -ELBO (nats/image)"),
    "gan": ("fid", "FID (domain classifier)"),
    "pixelcnn": ("nll", "test NLL (nats/image)"),
}


class Budget(keras.callbacks.Callback):
    """Stops ``fit`` once the training wall time reaches ``seconds`` (after at least
    ``MIN_TIMED_STEPS`` timed steps) and calls ``score()`` when the training time passes
    each of ``points`` (seconds) and at the end. The first step, which traces the train
    function, is timed apart; the time spent in ``score`` is left out.

    Attributes:
        rows: one dict per scoring: ``train_seconds``, ``images_seen`` and the scores.
        steps: steps run; ``first_step_seconds``; ``train_seconds``: training time of the
            steps after the first; ``eval_seconds``: time spent scoring.
    """

    def __init__(self, seconds, points, batch_size, score):
        super().__init__()
        self.seconds, self.points, self.batch_size, self.score = seconds, sorted(points), batch_size, score
        self.rows, self.steps, self.passed = [], 0, 0
        self.first_step_seconds = self.train_seconds = self.eval_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == 1:
            self.first_step_seconds = time.perf_counter() - self.start
            self.start = time.perf_counter()
            return
        now = time.perf_counter() - self.start - self.eval_seconds
        done = now >= self.seconds and self.steps > MIN_TIMED_STEPS
        passed = sum(p <= now for p in self.points)
        if done or passed > self.passed:
            self.passed = passed
            started = time.perf_counter()
            row = {"train_seconds": round(now, 2), "images_seen": self.steps * self.batch_size, **self.score()}
            self.eval_seconds += time.perf_counter() - started
            self.rows.append(row)
            print(f"  {row}", flush=True)
        if done:
            self.train_seconds = now
            self.model.stop_training = True


# ------------------------------------------------------------------------ data and scores


def load_data(family, dataset, batch_size, seed, limit, num_samples):
    """``(train, test, info)`` for a family: ``train`` a tf.data dataset of full batches,
    ``test`` what its ``scorer`` needs."""
    common = dict(batch_size=batch_size, seed=seed, limit=limit, drop_remainder=True, with_info=True)
    if family == "autoencoder":
        train, info = datasets.load(dataset, **common)
        return datasets.as_autoencoder_pairs(train), datasets.load_arrays(dataset, split="test")[0], info
    if family == "gan":
        train, info = datasets.load(dataset, value_range=(-1.0, 1.0), labels=True, **common)
        return train, datasets.load_arrays(dataset, split="test")[0], info
    binarize = "dynamic" if family == "vae" else "static"
    train, info = datasets.load(dataset, labels=True, binarize=binarize, **common)
    test = datasets.load(dataset, split="test", labels=True, binarize="static", shuffle=False, batch_size=500,
                         seed=seed, limit=num_samples if family == "pixelcnn" else None)
    return train, test, info


def scorer(name, family, model, test, args):
    """``(score, final, protocol)``: ``score()`` gives the scores at one point, ``final()``
    extra scores at the end, ``protocol`` says how they are measured."""
    if family == "autoencoder":
        x = test.astype(np.float32) / 255.0
        inputs, what = x, f"{len(x)} test images"
        if name == "denoising_autoencoder":
            inputs = keras.ops.convert_to_numpy(corrupt(x, "gaussian", 0.5, seed=args.seed + 1))
            what += f", inputs corrupted once (gaussian 0.5, seed {args.seed + 1}), clean targets"
        score = lambda: {"test_loss": round(model.evaluate(inputs, x, batch_size=500, verbose=0), 5)}  # noqa: E731
        return score, dict, f"compiled loss (BCE per pixel), mean over {what}"
    if family == "vae":
        def score():
            nats = model.evaluate(test, verbose=0, return_dict=True)["loss"]
            bits = float(bits_per_dim(nats, model.image_shape))
            return {"negative_elbo": round(nats, 3), "bits_per_dim": round(bits, 5)}

        def final():
            r = evaluate_likelihood(model, test, num_samples=args.iw_samples, seed=args.seed)
            return {f"final_{k}": round(r[k], 3) for k in ("negative_elbo", "iw_nll", "iw_nll_bits_per_dim")}

        given = ", -log p(x|y)" if name == "conditional_vae" else ""
        return score, final, (f"test -ELBO from evaluate (1 z per image){given}, all test images binarized once "
                              f"(seed {args.seed}); at the end evaluate_likelihood: -ELBO over K draws and "
                              f"IW-NLL, K={args.iw_samples}")
    if family == "gan":
        keys = ("fid", "kid", "classifier_score", "precision", "recall", "classes_covered", "num_classes",
                "diversity_score", "conditional_accuracy")

        def score():
            s = evaluate_samples(test, model, dataset=args.dataset, num_samples=args.num_samples, seed=args.seed)
            return {k: (round(s[k], 4) if isinstance(s[k], float) else s[k]) for k in keys if k in s}

        return score, dict, (f"evaluate_samples: {args.num_samples} samples (seed {args.seed}, same z each time) "
                             f"vs {args.num_samples} test images (seeded subset), domain classifier features")

    def score():
        r = exact_nll(model, test)
        return {"nll": round(r["nll"], 3), "bits_per_dim": round(r["bits_per_dim"], 5)}

    return score, dict, (f"exact NLL, first {args.num_samples} test images binarized once (seed {args.seed})")


# ------------------------------------------------------------------------------ one model


def run_model(name, args):
    spec, started = MODELS[name], time.perf_counter()
    print(f"{name}: {spec.settings}, batch {spec.batch_size}", flush=True)
    keras.utils.set_random_seed(args.seed)
    train, test, info = load_data(spec.family, args.dataset, spec.batch_size, args.seed, args.limit,
                                  args.num_samples)
    model = spec.build(args.seed)
    score, final, protocol = scorer(name, spec.family, model, test, args)
    points = [args.budget_seconds * (i + 1) / args.eval_points for i in range(args.eval_points)]
    budget = Budget(args.budget_seconds, points, spec.batch_size, score)
    model.fit(train, epochs=1_000_000, verbose=0, callbacks=[budget])
    scoring = time.perf_counter()
    extra = final()
    if args.sample_grids:
        grid = args.out / f"{name}_samples.png"
        plot_image_grid(model.sample(64, seed=args.seed), path=grid,
                        title=f"{name} after {budget.train_seconds:.0f} s of training (seed {args.seed})")
        extra["sample_grid"] = grid.name
    eval_seconds = budget.eval_seconds + time.perf_counter() - scoring
    try:
        flops = train_step_flops(model, train.element_spec, spec.batch_size)
    except ValueError:  # a step with loops (xICFG's functional steps): its FLOPs are not counted
        flops = {"total": math.nan, "by_type": {}}
    images_per_s = (budget.steps - 1) * spec.batch_size / budget.train_seconds
    flops_per_image = flops["total"] / spec.batch_size
    return {
        "model": name, "family": spec.family, "settings": spec.settings, "batch_size": spec.batch_size,
        "params": model.count_params(), "train_images": info.num_examples,
        "source": info.source.split(" (")[0], "budget_seconds": args.budget_seconds,
        "train_seconds": round(budget.train_seconds, 2),
        "first_step_seconds": round(budget.first_step_seconds, 2), "steps": budget.steps,
        "images_seen": budget.steps * spec.batch_size, "images_per_s": round(images_per_s, 1),
        "train_mflop_per_image": None if math.isnan(flops_per_image) else round(flops_per_image / 1e6, 3),
        "gflop_per_s": None if math.isnan(flops_per_image) else round(flops_per_image * images_per_s / 1e9, 3),
        "flops_by_type_per_image": {k: round(v / spec.batch_size) for k, v in sorted(flops["by_type"].items())},
        "eval_seconds": round(eval_seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
        "protocol": protocol, "points": budget.rows,
        "final": {**budget.rows[-1], **extra},
    }


# ---------------------------------------------------------------------------- the results


def final_scores(row):
    f = row["final"]
    if row["family"] == "autoencoder":
        return f"test BCE/pixel {f['test_loss']:.4f}"
    if row["family"] == "vae":
        return (f"-ELBO {f['negative_elbo']:.2f} ({f['bits_per_dim']:.4f} bits/dim); IW-NLL {f['final_iw_nll']:.2f} "
                f"({f['final_iw_nll_bits_per_dim']:.4f} bits/dim)")
    if row["family"] == "gan":
        text = (f"FID {f['fid']:.2f}, KID {f['kid']:.3f}, CS {f['classifier_score']:.2f}, "
                f"DS {f['diversity_score']:.3f}, classes {f['classes_covered']}/{f['num_classes']}")
        return text + (f", cond. acc. {f['conditional_accuracy']:.3f}" if "conditional_accuracy" in f else "")
    return f"NLL {f['nll']:.2f} ({f['bits_per_dim']:.4f} bits/dim)"


def _number(value, spec):
    return "n/a" if value is None else format(value, spec)


def markdown(rows, peak, head, args, total_seconds):
    lines = [head, "", f"Dataset: {args.dataset} ({rows[0]['source']}), {rows[0]['train_images']} train images; "
             f"training budget {args.budget_seconds:g} s of wall time per model, scored at {args.eval_points} "
             f"points. Matmul peak (float32 2048x2048, best of 5): {peak['gflop_per_s']:.1f} GFLOP/s "
             f"(measured before / after the models: {peak['before']:.1f} / {peak['after']:.1f}). "
             f"Whole run: {total_seconds / 60:.1f} minutes.", "",
             "| model | settings | batch | train images seen | training s | first step s | images/s | "
             "train MFLOP/image | GFLOP/s | % of matmul peak | final scores | scoring s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['settings']} | {r['batch_size']} | {r['images_seen']:,} | "
                     f"{r['train_seconds']:.1f} | {r['first_step_seconds']:.1f} | {r['images_per_s']:,.0f} | "
                     f"{_number(r['train_mflop_per_image'], '.2f')} | {_number(r['gflop_per_s'], '.2f')} | "
                     f"{_number(r['percent_of_peak'], '.1f')} | {final_scores(r)} | "
                     f"{r['eval_seconds']:.0f} |")
    lines += ["", "Protocol:", "",
              "- Training time: wall time of the steps of `fit` after the first, scoring excluded; the first "
              "step (tracing the train function, starting the input pipeline) is the column 'first step s'. "
              f"images/s: images of those steps / training time. Seed {args.seed} for weights, data order, "
              "binarization, noise and samples.",
              "- FLOPs per training image: one `train_step` traced for the table's batch size, every operation "
              "TensorFlow runs counted with its FLOP registry (the counts of `tf.profiler`'s float_operation: "
              "2 x MACs for MatMul and Conv2D; backward convolutions Conv2DBackpropInput/Filter counted "
              "exactly; element-wise ops one per element), so backward passes, every discriminator step and the "
              "gradient penalty's extra pass are in; dead ops (e.g. the gradient with respect to the input "
              "images) are not. Per real image for GANs. GFLOP/s = FLOPs per image x images/s. n/a: a step "
              "with loops (xICFG's functional steps), which the count cannot see into.",
              "- Final scores are those of the last point. CS: classifier score (Inception-score formula on the "
              "domain classifier), DS: diversity score exp(-KL(generated || real class histogram)), classes "
              "covered of 10; features and logits of the shipped keras_gen domain "
              "classifier, not InceptionV3: not comparable with published FIDs.", ""]
    lines += [f"- {r['model']}: {r['protocol']}." for r in rows]
    return "\n".join(lines) + "\n"


def plot(rows, path):
    """One panel per model family: its test metric against training time, one line per model."""
    families = list(dict.fromkeys(r["family"] for r in rows))
    ncols = min(2, len(families))
    nrows = math.ceil(len(families) / ncols)
    fig = Figure(figsize=(6.0 * ncols, 4.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, family in zip(axes, families):
        key, label = PRIMARY[family]
        for r in rows:
            if r["family"] == family:
                ax.plot([p["train_seconds"] for p in r["points"]], [p[key] for p in r["points"]], marker="o",
                        label=f"{r['model']} ({r['images_per_s']:,.0f} images/s{LEGEND_NOTES.get(r['model'], '')})")
        ax.set_title(f"{family}: {label}", fontsize=11)
        ax.set_xlabel("training time (s), first step and scoring excluded")
        ax.set_ylabel(label)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(families):]:
        ax.set_visible(False)
    fig.suptitle("Test metric against training time (lower is better)")
    fig.savefig(path, dpi=100)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = benchmark_parser(__doc__)
    parser.set_defaults(out=None)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=DEFAULT_MODELS, metavar="MODEL",
                        help=f"models to run: {', '.join(MODELS)} (default: all but the xICFG ones)")
    parser.add_argument("--budget-seconds", type=float, default=110.0,
                        help="training wall time per model, scoring excluded (default: 110)")
    parser.add_argument("--dataset", choices=("fashion_mnist", "mnist"), default="fashion_mnist",
                        help="fashion_mnist (60,000 / 10,000 images) or mnist (the bundled 8,000 / 2,000)")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N train images only")
    parser.add_argument("--num-samples", type=int, default=2000,
                        help="GAN samples and test images per score; PixelCNN test images (default: 2000)")
    parser.add_argument("--eval-points", type=int, default=4, help="scorings per model, spread over the budget")
    parser.add_argument("--iw-samples", type=int, default=100, help="K of the VAEs' final IW-NLL (default: 100)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow threads (intra- and inter-op) for this process (default: TensorFlow's)")
    parser.add_argument("--sample-grids", action="store_true",
                        help="write <out>/<model>_samples.png (64 samples at the end) for the sampling models")
    args = parser.parse_args(argv)
    if args.threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if args.quick:
        args.budget_seconds, args.limit, args.num_samples, args.eval_points, args.iw_samples = 3.0, 512, 200, 2, 5
    for flag in ("limit", "num_samples", "eval_points", "iw_samples"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if not args.budget_seconds > 0:
        parser.error(f"--budget-seconds must be > 0, got {args.budget_seconds}")
    num_test = len(datasets.load_arrays(args.dataset, split="test", labels=False)[0])
    if args.num_samples > num_test:
        parser.error(f"--num-samples {args.num_samples} is more than the {num_test} test images of {args.dataset}")
    write = args.out is not None or not args.quick
    args.out = args.out or Path(__file__).parent / "results"

    run_start = time.perf_counter()
    before = matmul_peak_gflops()
    print(f"matmul peak: {before:.1f} GFLOP/s", flush=True)
    rows = [run_model(name, args) for name in args.models]
    after = matmul_peak_gflops()
    peak = {"gflop_per_s": round(max(before, after), 2), "before": round(before, 2), "after": round(after, 2),
            "size": 2048, "repeats": 5}
    for r in rows:
        share = None if r["gflop_per_s"] is None else 100 * r["gflop_per_s"] / peak["gflop_per_s"]
        r["percent_of_peak"] = None if share is None else round(share, 2)
    note = "QUICK RUN (not a measurement)" if args.quick else None
    head = dated_header("harness.py", argv, args.seed, note)
    total_seconds = time.perf_counter() - run_start
    table = markdown(rows, peak, head, args, total_seconds)
    print(table)
    if write:
        write_results(args.out, "harness", table, {"header": head, "dataset": args.dataset,
                                                   "budget_seconds": args.budget_seconds, "matmul_peak": peak,
                                                   "total_seconds": round(total_seconds, 1),
                                                   "models": rows})
        plot(rows, args.out / "harness.png")
        print(f"wrote {args.out / 'harness.png'}")


if __name__ == "__main__":
    main()
