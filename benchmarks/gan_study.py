"""The GAN defaults study: candidate settings of DCGAN, the conditional GAN and WGAN-GP,
each trained for the same wall time on Fashion-MNIST and scored at fixed time points,
over several seeds. Settings are chosen on a held-out part of the train split; the test
split is scored once, for the chosen defaults (--split test).

    python benchmarks/gan_study.py --model dcgan --measure-rates     # images/s of every dcgan config
    python benchmarks/gan_study.py --model dcgan --configs radford ema --seeds 0 1 2
    python benchmarks/gan_study.py --model dcgan --configs f32_lr12e4_b128 --split test --seeds 0 1 2
    python benchmarks/gan_study.py --report            # tables and figure from every run so far
    python benchmarks/gan_study.py --model dcgan --configs radford --quick --out /tmp/study

Split ``holdout``: trains on the first 50,000 of the 60,000 train images and scores
against the other 10,000; split ``test``: trains on all 60,000 and scores against the
test split.

Time is measured, not read off a clock during the long runs: --measure-rates first
times each config's training steps on an otherwise idle machine (the best of
--rate-windows windows of --rate-steps steps, after 10 warm-up steps) and stores its
images/s in gan_study_rates.jsonl. A run then trains for --budget-seconds' worth of
steps at that rate and is scored after the step counts of --points times spread evenly
over it, so its results do not depend on what else the machine does meanwhile, and
the same seed gives the same steps. A candidate that changes only settings that leave a
step's cost unchanged (learning rates, their schedule, the EMA) takes its base config's
rate (``SAME_COST``). A candidate with ``lr_decay`` decays its learning rates to 0 over
the budget's steps. Each (config, seed) runs in a fresh process;
scores: ``evaluate_samples`` of --num-samples samples (the same z each time) against as
many real images (a seeded subset) on the shipped domain classifier's features, and a
grid of 64 samples written per point.

Rates and runs carry ``train_step``, the version of ``GAN.train_step`` they timed
(``TRAIN_STEP``): a run takes the rate of its own step, and the report keeps steps apart.

Every run appends one JSON line to --out/gan_study_runs.jsonl (runs accumulate across
invocations); --report turns them into gan_study.{md,png}: per config and split, the
mean and spread over seeds of FID, classes covered and conditional accuracy at each
time point.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from common import benchmark_parser, dated_header, machine  # noqa: E402
from keras_gen import build_conditional_gan, build_dcgan, build_gan, build_wgan_gp, datasets, gan  # noqa: E402
from keras_gen.metrics import evaluate_samples  # noqa: E402
from keras_gen.plotting import plot_image_grid  # noqa: E402

HOLDOUT = 50_000  # train images of the holdout split; the remaining 10,000 are its real images
BUILDERS = {"dcgan": build_dcgan, "conditional_gan": build_conditional_gan, "wgan_gp": build_wgan_gp, "gan": build_gan}

# One candidate = settings over its model's base, in the keys of keras_gen.gan.PRESETS.
# The bases are fixed: the classic presets, and for WGAN-GP the settings its recipe had
# before this study (Gulrajani's were slower still).
BASES = {"dcgan": gan.PRESETS["dcgan"]["radford"], "conditional_gan": gan.PRESETS["conditional_gan"]["radford"],
         "wgan_gp": {"filters": 32, "loss": "wasserstein", "d_steps": 3, "gp_weight": 10.0, "ema": None,
                     "d_learning_rate": 2e-4, "g_learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.9,
                     "batch_size": 64},
         "gan": gan.PRESETS["gan"]["goodfellow"]}
# The version of GAN.train_step a rate or run timed (JSON lines without the key: 1).
# 1, the library's: two generator forward passes per step (the discriminator's fakes, then
# new z for the generator's update). 2, a candidate (commit 6423407, reverted after its
# runs): the generator learned from the discriminator's fakes, one pass per step.
TRAIN_STEP = 1
EMA = {"ema": 0.999}
TTUR = {"d_learning_rate": 4e-4, "g_learning_rate": 1e-4}
SN_HINGE_TTUR = {"spectral_norm": True, "loss": "hinge", **TTUR, "beta_1": 0.0, "beta_2": 0.9}
CANDIDATES = {
    "dcgan": {
        "radford": {},
        "ema": EMA,
        "b128_ema": {"batch_size": 128, **EMA},
        "f32_ema": {"filters": 32, **EMA},
        "f32": {"filters": 32},
        "f32_decay": {"filters": 32, "lr_decay": "linear"},
        "f32_lr4e4": {"filters": 32, "d_learning_rate": 4e-4, "g_learning_rate": 4e-4},
        "f32_lr4e4_decay": {"filters": 32, "d_learning_rate": 4e-4, "g_learning_rate": 4e-4, "lr_decay": "linear"},
        "f32_lr6e4": {"filters": 32, "d_learning_rate": 6e-4, "g_learning_rate": 6e-4},
        "f32_lr8e4": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
        "f32_lr12e4": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3},
        "f32_lr8e4_ema": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, **EMA},
        # WGAN-GP's winning lessons tried on the default: Adam(0, 0.9), and a faster D
        "f32_lr8e4_b0": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, "beta_1": 0.0,
                         "beta_2": 0.9},
        "f32_d16e4_g8e4": {"filters": 32, "d_learning_rate": 1.6e-3, "g_learning_rate": 8e-4},
        # the least-squares loss (LSGAN), and an EMA at the faster 1.2e-3
        "f32_lr8e4_lsgan": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, "loss": "least_squares"},
        "f32_lr12e4_ema": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3, **EMA},
        # width and batch for this CPU's throughput at the default's Adam 8e-4 (each needs its rate)
        "f24_lr8e4": {"filters": 24, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
        "f48_lr8e4": {"filters": 48, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
        "f32_lr8e4_b32": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, "batch_size": 32},
        "f32_lr8e4_b128": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, "batch_size": 128},
        # around the batch-128 lead: a faster Adam for its fewer steps, an EMA, and batch 256
        "f32_lr12e4_b128": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3, "batch_size": 128},
        "f32_lr8e4_b128_ema": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, "batch_size": 128,
                               **EMA},
        "f32_lr8e4_b256": {"filters": 32, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4, "batch_size": 256},
        "f32_lr16e4_b256": {"filters": 32, "d_learning_rate": 1.6e-3, "g_learning_rate": 1.6e-3, "batch_size": 256},
        # around the batch-128 default (Adam 1.2e-3): faster still, faster with a linear decay
        # to 0 over the budget, and a D twice as fast as G
        "f32_lr16e4_b128": {"filters": 32, "d_learning_rate": 1.6e-3, "g_learning_rate": 1.6e-3, "batch_size": 128},
        "f32_lr16e4_b128_decay": {"filters": 32, "d_learning_rate": 1.6e-3, "g_learning_rate": 1.6e-3,
                                  "batch_size": 128, "lr_decay": "linear"},
        "f32_d24e4_g12e4_b128": {"filters": 32, "d_learning_rate": 2.4e-3, "g_learning_rate": 1.2e-3,
                                 "batch_size": 128},
        # one-sided label smoothing (Salimans et al. 2016: real targets 0.9) on the default
        "f32_lr12e4_b128_ls01": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                 "batch_size": 128, "label_smoothing": 0.1},
        # and on the default a generator EMA (it helped at batch 64 and Adam 1.2e-3), and 48 filters
        "f32_lr12e4_b128_ema": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                "batch_size": 128, **EMA},
        "f48_lr12e4_b128": {"filters": 48, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3, "batch_size": 128},
        # same-cost variations of the default: the hinge loss (without spectral norm), a shorter
        # EMA (0.99: it follows G within ~100 steps), and Adam's beta_2 0.99 (StyleGAN's)
        "f32_lr12e4_b128_hinge": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                  "batch_size": 128, "loss": "hinge"},
        "f32_lr12e4_b128_ema99": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                  "batch_size": 128, "ema": 0.99},
        "f32_lr12e4_b128_b299": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                 "batch_size": 128, "beta_2": 0.99},
        # network changes on the default (each needs its rate): D sees the batch's variety
        # (minibatch stddev), one extra 3x3 convolution in G and D (Arjovsky's n_extra_layers),
        # and spectral norm in place of D's batch norm
        "f32_lr12e4_b128_mbstd": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                  "batch_size": 128, "minibatch_stddev": True},
        "f32_lr12e4_b128_x1": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                               "batch_size": 128, "extra_layers": 1},
        "f32_lr12e4_b128_sn": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                               "batch_size": 128, "spectral_norm": True},
        # the default computed in bfloat16 (weights, BN statistics and losses in float32): this
        # CPU has native bfloat16 instructions (AVX512_BF16)
        "f32_lr12e4_b128_bf16": {"filters": 32, "d_learning_rate": 1.2e-3, "g_learning_rate": 1.2e-3,
                                 "batch_size": 128, "precision": "mixed_bfloat16"},
        "f16_ema": {"filters": 16, **EMA},
        "ttur_ema": {**TTUR, **EMA},
        "sn_hinge_ttur_ema": {**SN_HINGE_TTUR, **EMA},
        "sn_r1_ema": {"spectral_norm": True, "r1_weight": 1.0, **EMA},
    },
    "conditional_gan": {
        "radford": {},
        "ema": EMA,
        "projection_ema": {"conditioning": "projection", **EMA},
        "f32_projection_ema": {"filters": 32, "conditioning": "projection", **EMA},
        "f32_projection": {"filters": 32, "conditioning": "projection"},
        "f32_projection_ema_decay": {"filters": 32, "conditioning": "projection", **EMA, "lr_decay": "linear"},
        "f32_projection_ema_lr4e4": {"filters": 32, "conditioning": "projection", **EMA,
                                     "d_learning_rate": 4e-4, "g_learning_rate": 4e-4},
        "f32_projection_ema_lr8e4": {"filters": 32, "conditioning": "projection", **EMA,
                                     "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
        "projection_sn_hinge_ttur_ema": {"conditioning": "projection", **SN_HINGE_TTUR, **EMA},
        "f32_projection_ema_ac": {"filters": 32, "conditioning": "projection", **EMA, "auxiliary_classifier": True},
        "f32_projection_ema_ac_lr8e4": {"filters": 32, "conditioning": "projection", **EMA,
                                        "auxiliary_classifier": True, "d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
    },
    "wgan_gp": {
        "recipe": {},
        "recipe_ema": EMA,
        "d1_ttur_ema": {"d_steps": 1, **TTUR, "beta_1": 0.0, **EMA},
        "d1_lr4e4_ema": {"d_steps": 1, "d_learning_rate": 4e-4, "g_learning_rate": 4e-4, "beta_1": 0.0, **EMA},
        "d1_ttur2x_ema": {"d_steps": 1, "d_learning_rate": 8e-4, "g_learning_rate": 2e-4, "beta_1": 0.0, **EMA},
        "d1_ttur4x_ema": {"d_steps": 1, "d_learning_rate": 1.6e-3, "g_learning_rate": 4e-4, "beta_1": 0.0, **EMA},
    },
    "gan": {
        "goodfellow": {},
        "ema": EMA,
        "ttur_ema": {**TTUR, **EMA},
        "lr8e4": {"d_learning_rate": 8e-4, "g_learning_rate": 8e-4},
    },
}


# Candidates that differ from another config only in settings that leave a step's cost
# unchanged (learning rates and their schedule, the EMA's few operations per weight) take
# that config's measured rate: equal time is then equal steps, and the 10-30% drift of
# this machine's speed between measurement sessions cannot favour either.
SAME_COST = {
    "dcgan": {"f32_decay": "f32", "f32_lr4e4": "f32", "f32_lr4e4_decay": "f32", "f32_lr6e4": "f32", "f32_lr8e4": "f32",
              "f32_lr12e4": "f32", "f32_lr8e4_ema": "f32", "f32_lr8e4_b0": "f32", "f32_d16e4_g8e4": "f32",
              "f32_lr8e4_lsgan": "f32", "f32_lr12e4_ema": "f32", "f32_lr12e4_b128": "f32_lr8e4_b128",
              "f32_lr8e4_b128_ema": "f32_lr8e4_b128", "f32_lr16e4_b256": "f32_lr8e4_b256",
              "f32_lr16e4_b128": "f32_lr8e4_b128", "f32_lr16e4_b128_decay": "f32_lr8e4_b128",
              "f32_d24e4_g12e4_b128": "f32_lr8e4_b128", "f32_lr12e4_b128_ls01": "f32_lr8e4_b128",
              "f32_lr12e4_b128_ema": "f32_lr8e4_b128", "f32_lr12e4_b128_hinge": "f32_lr8e4_b128",
              "f32_lr12e4_b128_ema99": "f32_lr8e4_b128", "f32_lr12e4_b128_b299": "f32_lr8e4_b128"},
    # AC-GAN's class head is one Dense(10) on D's last features: about 31k multiply-adds per
    # image against 1.7M in D's convolutions (interleaved rates on a loaded machine: 593 and
    # 545 images/s without, 482 and 618 with).
    "conditional_gan": {"f32_projection": "f32_projection_ema", "f32_projection_ema_decay": "f32_projection_ema",
                        "f32_projection_ema_lr4e4": "f32_projection_ema",
                        "f32_projection_ema_lr8e4": "f32_projection_ema",
                        "f32_projection_ema_ac": "f32_projection_ema",
                        "f32_projection_ema_ac_lr8e4": "f32_projection_ema"},
    "gan": {"lr8e4": "goodfellow"},
    "wgan_gp": {"d1_lr4e4_ema": "d1_ttur_ema", "d1_ttur2x_ema": "d1_ttur_ema", "d1_ttur4x_ema": "d1_ttur_ema"},
}


def build(model, settings, seed, steps):
    """The compiled model of one candidate training for ``steps`` steps (the span of a
    learning-rate decay): every setting explicit, so no preset's default enters."""
    network, compiled = gan.settings_arguments(settings, decay_steps=steps)
    extra = {"num_classes": 10} if model == "conditional_gan" else {}
    return BUILDERS[model](seed=seed, **extra, **network, **compiled)


def settings_of(model, config):
    return {**BASES[model], **CANDIDATES[model][config]}


def load_split(split, batch, seed, quick):
    """``(train dataset, real images for scoring, train images)`` of a split."""
    x_train = datasets.load_arrays("fashion_mnist", split="train", labels=False)[0]
    limit = 512 if quick else (HOLDOUT if split == "holdout" else None)
    train, info = datasets.load("fashion_mnist", value_range=(-1.0, 1.0), labels=True, batch_size=batch, seed=seed,
                                limit=limit, drop_remainder=True, with_info=True)
    real = x_train[HOLDOUT:] if split == "holdout" else datasets.load_arrays("fashion_mnist", "test", labels=False)[0]
    return train, real, info.num_examples


class StepPoints(keras.callbacks.Callback):
    """Calls ``score()`` after each of the step counts ``points`` and stops ``fit`` after
    the last; ``rows`` gets one dict per point (``steps``, ``images_seen``, wall time of
    the training so far with scoring excluded, and the scores)."""

    def __init__(self, points, batch_size, score):
        super().__init__()
        self.points, self.batch_size, self.score = list(points), batch_size, score
        self.rows, self.steps, self.eval_seconds = [], 0, 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps not in self.points:
            return
        wall = time.perf_counter() - self.start - self.eval_seconds
        started = time.perf_counter()
        row = {"steps": self.steps, "images_seen": self.steps * self.batch_size, "wall_seconds": round(wall, 1),
               **self.score(len(self.rows)), "logs": {k: round(float(v), 4) for k, v in (logs or {}).items()}}
        self.eval_seconds += time.perf_counter() - started
        self.rows.append(row)
        print(f"  {row}", flush=True)
        if self.steps == self.points[-1]:
            self.model.stop_training = True


class RateTimer(keras.callbacks.Callback):
    """Times steps ``skip + 1 .. skip + steps`` of ``fit`` (the first ones trace and warm
    up), in ``windows`` consecutive windows, then stops ``fit``."""

    def __init__(self, skip, steps, windows):
        super().__init__()
        self.skip, self.window, self.windows, self.steps, self.seconds = skip, steps, windows, 0, []

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps >= self.skip and (self.steps - self.skip) % self.window == 0:
            now = time.perf_counter()
            if self.steps > self.skip:
                self.seconds.append(now - self.begin)
            self.begin = now
            if len(self.seconds) == self.windows:
                self.model.stop_training = True


def measure_rate(args):
    """Training images/s of one config (the best of --rate-windows windows of
    --rate-steps steps after 10 warm-up steps); appends a JSON line to the rates file."""
    config = args.configs[0]
    settings = settings_of(args.model, config)
    keras.utils.set_random_seed(args.seeds[0])
    train, _, _ = load_split(args.split, settings["batch_size"], args.seeds[0], args.quick)
    model = build(args.model, settings, args.seeds[0], steps=1_000_000)
    timer = RateTimer(10, args.rate_steps, args.rate_windows)
    model.fit(train, epochs=1_000_000, verbose=0, callbacks=[timer])
    rates = [args.rate_steps * settings["batch_size"] / t for t in timer.seconds]
    row = {"model": args.model, "config": config, "batch": settings["batch_size"], "images_per_s": round(max(rates), 1),
           "windows": [round(r, 1) for r in rates], "quick": args.quick, "train_step": TRAIN_STEP,
           "machine": machine(), "header": dated_header("gan_study.py", sys.argv[1:], args.seeds[0]),
           "commit": _commit()}
    with open(args.out / "gan_study_rates.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: row[k] for k in ("model", "config", "images_per_s", "windows")}), flush=True)


def rate_of(out, model, config, quick=False, train_step=TRAIN_STEP):
    """A config's images/s with ``train_step``: the median of its measurements so far
    (each the best of its windows; those of its ``SAME_COST`` config if it has one), or None. Rates move by
    10-30% between measurement sessions on this machine, so measuring again
    (--measure-rates) refines the time axis of every run's report."""
    path = out / "gan_study_rates.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    config = SAME_COST.get(model, {}).get(config, config)
    rates = [r["images_per_s"] for r in rows if r["model"] == model and r["config"] == config and r["quick"] == quick
             and r.get("train_step", 1) == train_step]
    return statistics.median(rates) if rates else None


def run_one(args):
    """Trains and scores one (config, seed); appends its JSON line."""
    config, seed = args.configs[0], args.seeds[0]
    settings = settings_of(args.model, config)
    rate = rate_of(args.out, args.model, config, args.quick)
    if rate is None:
        raise SystemExit(f"no measured rate for {args.model} {config}: run with --measure-rates first")
    batch = settings["batch_size"]
    points = [max(1, round(args.budget_seconds * (i + 1) / args.points * rate / batch)) for i in range(args.points)]
    keras.utils.set_random_seed(seed)
    train, real, num_train = load_split(args.split, batch, seed, args.quick)
    model = build(args.model, settings, seed, steps=points[-1])
    grids = args.out / "gan_study" / args.model / f"{config}_{args.split}_seed{seed}"
    grids.mkdir(parents=True, exist_ok=True)
    keys = ("fid", "kid", "classifier_score", "precision", "recall", "classes_covered", "conditional_accuracy")

    def score(index):
        s = evaluate_samples(real, model, dataset="fashion_mnist", num_samples=args.num_samples, seed=seed)
        t = points[index] * batch / rate
        plot_image_grid(model.sample(64, seed=0), path=grids / f"t{t:04.0f}.png",
                        title=f"{args.model} {config}, {t:.0f} s ({points[index]} steps), seed {seed}")
        return {"train_seconds": round(t, 1), **{k: round(float(s[k]), 4) for k in keys if k in s}}

    timer = StepPoints(points, batch, score)
    started = time.perf_counter()
    model.fit(train, epochs=1_000_000, verbose=0, callbacks=[timer])
    row = {"model": args.model, "config": config, "settings": settings, "seed": seed, "split": args.split,
           "train_images": num_train, "num_samples": args.num_samples, "budget_seconds": args.budget_seconds,
           "quick": args.quick, "train_step": TRAIN_STEP, "images_per_s": rate, "points": timer.rows,
           "wall_seconds": round(time.perf_counter() - started, 1), "machine": machine(),
           "header": dated_header("gan_study.py", sys.argv[1:], seed), "commit": _commit()}
    with open(args.out / "gan_study_runs.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: row[k] for k in ("model", "config", "seed", "split", "images_per_s")}), row["points"][-1])


def _commit():
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent)
    return result.stdout.strip() or None


# ------------------------------------------------------------------------------ report


def _mean_spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _cell(values, spec):
    mean, spread = _mean_spread(values)
    if mean is None:
        return "-"
    return format(mean, spec) + (f" ± {format(spread, spec)}" if len(values) > 1 else "")


STEP_LABELS = {1: "", 2: " (one G pass)"}  # runs of train_step 2 are marked in the table and figure


def report(out):
    runs = [json.loads(line) for line in (out / "gan_study_runs.jsonl").read_text().splitlines() if line.strip()]
    runs = [r for r in runs if not r["quick"]]
    for r in runs:  # the time axis from the config's rate as measured so far
        r["train_step"] = r.get("train_step", 1)
        rate = rate_of(out, r["model"], r["config"], train_step=r["train_step"])
        r["images_per_s"] = rate
        for p in r["points"]:
            p["train_seconds"] = p["images_seen"] / rate
    groups = {}
    for r in runs:
        groups.setdefault((r["model"], r["split"], r["budget_seconds"], r["config"], r["train_step"]), []).append(r)
    lines = ["Command: python benchmarks/gan_study.py --report (from the runs in gan_study_runs.jsonl; each run's "
             "command, date and commit are in its JSON line)", "",
             "Mean ± standard deviation over seeds. FID: 2,000 samples against 2,000 real images (holdout: images "
             "50,001-60,000 of the train split, not trained on; test: the test split), features of the shipped "
             "Fashion-MNIST domain classifier, not InceptionV3. Time: training time, scoring excluded: steps x "
             "batch / the config's images/s measured on an idle machine (gan_study_rates.jsonl). Configs marked (one G "
             "pass) ran a candidate GAN.train_step (commit 6423407, reverted after these runs: the generator learned "
             "from the discriminator's fakes, one generator forward pass per step instead of two), timed at that "
             "step's rate.", ""]
    models = [m for m in BUILDERS if any(k[0] == m for k in groups)]
    # One wide panel per model with its legend at the right; runs over several seeds (the
    # confirmations, the test split) drawn bold with error bars, one-seed screens thin.
    fig = Figure(figsize=(11.0, 4.6 * len(models)), layout="constrained")
    axes = dict(zip(models, fig.subplots(len(models), 1, squeeze=False).ravel()))
    for model in models:
        keyed = {k: v for k, v in groups.items() if k[0] == model}
        lines += [f"## {model}", "", "| split | config | settings over the base | seeds | images/s | "
                  "FID at each point (s: FID) | classes covered (last) | cond. acc. (last) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for index, ((_, split, budget, config, step), rs) in enumerate(sorted(keyed.items())):
            config += STEP_LABELS[step]
            times = [p["train_seconds"] for p in rs[0]["points"]]
            n = min(len(r["points"]) for r in rs)
            fids = [_cell([r["points"][i]["fid"] for r in rs], ".1f") for i in range(n)]
            series = ", ".join(f"{times[i]:.0f}: {fids[i]}" for i in range(n))
            last = [r["points"][n - 1] for r in rs]
            over = {k: v for k, v in rs[0]["settings"].items() if BASES[model].get(k) != v}
            note = f" ({rs[0]['note']})" if rs[0].get("note") else ""
            lines.append(f"| {split} | {config}{note} | {json.dumps(over) if over else 'base'} | "
                         f"{', '.join(str(r['seed']) for r in rs)} | "
                         f"{_cell([r['images_per_s'] for r in rs], ',.0f')} | "
                         f"{series} | {_cell([p.get('classes_covered') for p in last], '.1f')} | "
                         f"{_cell([p.get('conditional_accuracy') for p in last], '.3f')} |")
            mean_t = [statistics.mean(r["points"][i]["train_seconds"] for r in rs) for i in range(n)]
            mean_f = [_mean_spread([r["points"][i]["fid"] for r in rs]) for i in range(n)]
            several = len(rs) > 1
            axes[model].errorbar(mean_t, [m for m, _ in mean_f], yerr=[s for _, s in mean_f],
                                 marker="o" if several else ".", color=colormaps["tab20"](index % 20),
                                 linewidth=2.2 if several else 1.0, alpha=1.0 if several else 0.55, capsize=3,
                                 label=f"{config} ({split}, {len(rs)} seed{'s' if several else ''})",
                                 linestyle="--" if split == "test" else ("-" if several else ":"))
        lines.append("")
        base = BASES[model]
        lines += [f"Base settings of {model}: {json.dumps(base)}.", ""]
        ax = axes[model]
        ax.set_title(model)
        ax.set_xlabel("training time (s)")
        ax.set_ylabel("FID (domain classifier), lower is better")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    (out / "gan_study.md").write_text("\n".join(lines) + "\n")
    fig.savefig(out / "gan_study.png", dpi=100)
    print("\n".join(lines))
    print(f"wrote {out / 'gan_study.md'} and {out / 'gan_study.png'}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = benchmark_parser(__doc__)
    parser.add_argument("--model", choices=list(BUILDERS), default="dcgan")
    parser.add_argument("--configs", nargs="+", default=None, metavar="CONFIG",
                        help="candidates of --model (default: all): " + "; ".join(
                            f"{m}: {', '.join(c)}" for m, c in CANDIDATES.items()))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--split", choices=("holdout", "test"), default="holdout")
    parser.add_argument("--budget-seconds", type=float, default=600.0)
    parser.add_argument("--points", type=int, default=6, help="scorings spread evenly over the budget")
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--report", action="store_true", help="only write gan_study.{md,png} from the runs so far")
    parser.add_argument("--measure-rates", action="store_true",
                        help="measure each config's training images/s (run on an otherwise idle machine)")
    parser.add_argument("--rate-steps", type=int, default=40, help="steps per timing window (default: 40)")
    parser.add_argument("--rate-windows", type=int, default=3, help="timing windows; the best counts (default: 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow threads per run (default: TensorFlow's). Runs are scored at step counts, so "
                             "two studies with --threads 1 side by side give the same results as one at a time")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report:
        return report(args.out)
    args.configs = args.configs or list(CANDIDATES[args.model])
    unknown = [c for c in args.configs if c not in CANDIDATES[args.model]]
    if unknown:
        parser.error(f"unknown configs {unknown} for {args.model}; choose from {list(CANDIDATES[args.model])}")
    if args.quick:
        args.budget_seconds, args.points, args.num_samples = 4.0, 2, 200
    if args.quick:
        args.rate_steps, args.rate_windows = 3, 1
    if args.one:
        if args.threads is not None:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        return measure_rate(args) if args.measure_rates else run_one(args)
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in ([args.seeds[0]] if args.measure_rates else args.seeds):
        for config in args.configs:
            command = [sys.executable, __file__, "--one", "--model", args.model, "--configs", config, "--seeds",
                       str(seed), "--split", args.split, "--budget-seconds", str(args.budget_seconds), "--points",
                       str(args.points), "--num-samples", str(args.num_samples), "--out", str(args.out),
                       "--rate-steps", str(args.rate_steps), "--rate-windows", str(args.rate_windows)]
            command += (["--quick"] if args.quick else []) + (["--measure-rates"] if args.measure_rates else [])
            command += [] if args.threads is None else ["--threads", str(args.threads)]
            print(f"{args.model} {config} seed {seed} ({args.split}{', rate' if args.measure_rates else ''})",
                  flush=True)
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
