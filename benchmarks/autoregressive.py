"""Issue 16's benchmark: PixelCNN, Gated PixelCNN (two stacks), PixelRNN's Row LSTM and
Diagonal BiLSTM, on statically binarized bundled MNIST and Fashion-MNIST: the exact test
NLL at the same wall-clock training budget and at the same number of epochs, with the
parameters, train images/s and the time to sample 64 images.

    python benchmarks/autoregressive.py --threads 1 --whole-canvas   # about 90 minutes on one core
    python benchmarks/autoregressive.py --quick --out /tmp/ar         # a smoke run of the same code

The README's numbers: four processes, each pinned to one core with one TensorFlow
thread, the other core busy with another benchmark process at nearly all times (so
images/s depend on the neighbour: about +-25% here), then one table:

    taskset -c 1 python benchmarks/autoregressive.py --threads 1 --datasets fashion_mnist --out /tmp/ar_fashion
    taskset -c 1 python benchmarks/autoregressive.py --threads 1 --whole-canvas --datasets mnist \
        --models pixelcnn gated_pixelcnn --out /tmp/ar_mnist_cnn
    taskset -c 1 python benchmarks/autoregressive.py --threads 1 --whole-canvas --datasets mnist \
        --models row_lstm --out /tmp/ar_mnist_row
    taskset -c 0 python benchmarks/autoregressive.py --threads 1 --whole-canvas --datasets mnist \
        --models diagonal_bilstm --out /tmp/ar_mnist_rnn
    python benchmarks/autoregressive.py --combine /tmp/ar_mnist_cnn /tmp/ar_mnist_row /tmp/ar_mnist_rnn \
        /tmp/ar_fashion

Protocol, for each dataset and model, in one process, one after the other:
- Data: the bundled MNIST's 8,000 train / 2,000 test images, or the first 8,000 train and
  2,000 test images of Fashion-MNIST (Debian), each binarized once with the seed
  ("static"), batches of 64, shuffled with the seed.
- Models (``--models``), the sizes of the papers' MNIST models where they give them:
  ``pixelcnn`` and ``gated_pixelcnn`` with 32 filters and 8 layers (the recipe's
  default), ``row_lstm`` and ``diagonal_bilstm`` with 7 layers of 16 (van den Oord et al.
  2016a's MNIST models).
- ``fit`` runs until both --budget-seconds of training and --epochs epochs are done. The
  exact NLL of the test images (nats per image and bits/dim) is taken at the budget (the
  step that crosses it) and after the epochs; the time those evaluations take is not
  training time. Train images/s: the images of the budget over its seconds, the first
  step (tracing) left out.
- Sampling: 64 images from the trained model with ``model.sample`` (the family's compiled
  sampler: PixelCNN on the window a pixel sees, PixelRNN with its carried LSTM states),
  timed on the second call (the first traces); with --whole-canvas (the first dataset
  only), --whole-canvas-images images both with the family's sampler and with a compiled
  loop running the whole network on the whole canvas at every pixel (traced first), which
  must draw the same images.

Writes --out/autoregressive.{md,json} and --out/autoregressive_samples.png (12 samples per
model and dataset; the images also in autoregressive_samples.npz); ``--combine`` writes
them for the rows of several such folders.
"""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import benchmark_parser, dated_header, write_results  # noqa: E402
from keras_gen import datasets  # noqa: E402
from keras_gen.autoregressive import exact_nll  # noqa: E402
from keras_gen.pixelcnn import build_pixelcnn  # noqa: E402
from keras_gen.pixelrnn import build_pixelrnn  # noqa: E402
from keras_gen.plotting import plot_image_rows  # noqa: E402


def _pixelcnn(architecture):
    return lambda shape, quick: build_pixelcnn(shape, architecture=architecture, filters=8 if quick else 32,
                                               num_layers=1 if quick else 8)


def _pixelrnn(kind):
    return lambda shape, quick: build_pixelrnn(shape, kind=kind, layers_count=1 if quick else 7,
                                               hidden=4 if quick else 16)


MODELS = {"pixelcnn": _pixelcnn("pixelcnn"), "gated_pixelcnn": _pixelcnn("gated"), "row_lstm": _pixelrnn("row_lstm"),
          "diagonal_bilstm": _pixelrnn("diagonal_bilstm")}
SETTINGS = {"pixelcnn": "32 filters, 8 residual blocks", "gated_pixelcnn": "two stacks, 32 filters, 8 layers",
            "row_lstm": "7 layers, hidden 16", "diagonal_bilstm": "7 layers, hidden 16"}
ANCHORS = "Published on full binarized MNIST (60,000 train images, not reproducible offline): PixelCNN 81.30, " \
          "Diagonal BiLSTM 79.20 nats (van den Oord et al. 2016a)"


class BudgetAndEpochs(keras.callbacks.Callback):
    """Stops ``fit`` once ``budget`` seconds of training and ``epochs`` epochs are done,
    scoring the test set at each of the two points; scoring time is not training time."""

    def __init__(self, test, budget, epochs, batch_size):
        super().__init__()
        self.test, self.budget, self.epochs, self.batch_size = test, budget, epochs, batch_size
        self.at_budget = self.at_epochs = None
        self.steps, self.scoring = 0, 0.0

    def training_seconds(self):
        return time.perf_counter() - self.start - self.scoring

    def score(self):
        start = time.perf_counter()
        result = exact_nll(self.model, self.test)
        self.scoring += time.perf_counter() - start
        return {"nll": round(result["nll"], 2), "nll_std_error": round(result["nll_std_error"], 2),
                "bits_per_dim": round(result["bits_per_dim"], 4), "train_seconds": round(self.training_seconds(), 1),
                "steps": self.steps, "images_seen": self.steps * self.batch_size}

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == 1:
            self.after_first = self.training_seconds()
        if self.at_budget is None and self.training_seconds() >= self.budget:
            seconds = self.training_seconds()
            timed = seconds - self.after_first
            self.images_per_s = (self.steps - 1) * self.batch_size / timed if self.steps > 1 else float("nan")
            self.at_budget = self.score()
            print(f"  at the budget: {self.at_budget}", flush=True)
            self.model.stop_training = self.at_epochs is not None

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.at_epochs = self.score()
            print(f"  after {self.epochs} epochs: {self.at_epochs}", flush=True)
            self.model.stop_training = self.at_budget is not None


def whole_canvas_sampler(model):
    """A compiled loop running the whole network on the whole canvas at every pixel, with
    the model's own stateless draws: the baseline the carried-state samplers are
    measured against."""
    height, width, channels = model.image_shape
    steps = height * width * channels

    @tf.function
    def sample(seed, num):
        def body(i, canvas):
            row, column, channel = i // (width * channels), (i // channels) % width, i % channels
            logits = model.logits(canvas)[:, row, column, channel]
            value = model.draw_level(tf.cast(logits, tf.float32), seed, i)
            where = tf.reshape(tf.one_hot(i, steps, dtype=tf.float32), (1, height, width, channels))
            return i + 1, canvas + value[:, None, None, None] * where

        canvas = tf.zeros(tf.stack([num, height, width, channels]))
        return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), canvas))[1]

    return sample


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return round(time.perf_counter() - start, 2), out


def run(dataset, name, args):
    print(f"{dataset} / {name}", flush=True)
    keras.utils.set_random_seed(args.seed)
    train, info = datasets.load(dataset, batch_size=64, binarize="static", seed=args.seed, limit=args.train_limit,
                                with_info=True)
    test, test_info = datasets.load(dataset, split="test", batch_size=500, binarize="static", seed=args.seed,
                                    limit=args.test_limit, shuffle=False, with_info=True)
    model = MODELS[name](info.image_shape, args.quick)
    budget = BudgetAndEpochs(test, args.budget_seconds, args.epochs, 64)
    model.fit(train, epochs=10_000, callbacks=[budget], verbose=0)
    trace_seconds, _ = timed(lambda: model.sample(args.num_samples, seed=args.seed))
    sample_seconds, images = timed(lambda: model.sample(args.num_samples, seed=args.seed))
    row = {"dataset": dataset, "model": name, "settings": SETTINGS[name], "params": model.count_params(),
           "train_images": info.num_examples, "test_images": test_info.num_examples,
           "images_per_s": round(budget.images_per_s, 1), "at_budget": budget.at_budget, "at_epochs": budget.at_epochs,
           "sample_images": args.num_samples, "sample_seconds": sample_seconds,
           "sample_first_call_seconds": trace_seconds}
    if args.whole_canvas and dataset == args.datasets[0]:
        # The same number of images both ways; the whole-canvas loop is traced first, then run once.
        num = args.whole_canvas_images
        row["whole_canvas_images"] = num
        row["whole_canvas_sampler_seconds"], few = timed(lambda: model.sample(num, seed=args.seed))
        sampler = whole_canvas_sampler(model)
        seed = tf.constant(args.seed, tf.int64)
        sampler.get_concrete_function(seed, tf.constant(num))
        row["whole_canvas_seconds"], whole = timed(lambda: sampler(seed, tf.constant(num)).numpy())
        row["whole_canvas_same_images"] = bool(np.array_equal(whole, few))
    print(f"  {row}", flush=True)
    return row, images[:12]


def markdown(rows, head, args):
    lines = [head, "",
             f"Statically binarized images (one draw per pixel with the seed), {rows[0]['train_images']:,} train and "
             f"{rows[0]['test_images']:,} test images per dataset, batch 64. Exact test NLL (nats per image, "
             f"+- standard error over the test images; bits/dim) after {args.budget_seconds:g} s of training and "
             f"after {args.epochs} epoch(s), one seed ({args.seed}). {ANCHORS}.", "",
             f"| dataset | model | params | train images/s | NLL at {args.budget_seconds:g} s (bits/dim) | "
             f"epochs done by then | NLL after {args.epochs} epoch(s) (bits/dim) | seconds for them | "
             f"seconds to sample {rows[0]['sample_images']} |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        b, e = r["at_budget"], r["at_epochs"]
        lines.append(f"| {r['dataset']} | {r['model']} ({r['settings']}) | {r['params']:,} | "
                     f"{r['images_per_s']:,.0f} | "
                     f"{b['nll']:.2f} +- {b['nll_std_error']:.2f} ({b['bits_per_dim']:.4f}) | "
                     f"{b['images_seen'] / r['train_images']:.2f} | "
                     f"{e['nll']:.2f} +- {e['nll_std_error']:.2f} ({e['bits_per_dim']:.4f}) | "
                     f"{e['train_seconds']:,.0f} | {r['sample_seconds']} |")
    whole = [r for r in rows if "whole_canvas_seconds" in r]
    if whole:
        lines += ["", f"Sampling {whole[0]['whole_canvas_images']} images, {whole[0]['dataset']}: each family's "
                  "sampler against a compiled loop running the whole network on the whole canvas at every pixel "
                  "(both traced before the timed call):", "",
                  "| model | sampler (s) | whole canvas per pixel (s) | speed-up | same images |",
                  "| --- | --- | --- | --- | --- |"]
        for r in whole:
            lines.append(f"| {r['model']} | {r['whole_canvas_sampler_seconds']} | {r['whole_canvas_seconds']} | "
                         f"{r['whole_canvas_seconds'] / r['whole_canvas_sampler_seconds']:.1f}x | "
                         f"{r['whole_canvas_same_images']} |")
    return "\n".join(lines) + "\n"


def write(rows, grids, head, args):
    table = markdown(rows, head, args)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out / "autoregressive_samples.npz", **{k.replace("\n", "/"): v for k, v in grids.items()})
    plot_image_rows(grids, title="Samples after training (seed 0, first 12 of 64)",
                    path=args.out / "autoregressive_samples.png")
    write_results(args.out, "autoregressive", table,
                  {"header": head, "rows": rows, "budget_seconds": args.budget_seconds, "epochs": args.epochs})


def combine(folders, args):
    """The rows, headers and samples of several runs' --out folders, as one table."""
    rows, grids, heads = [], {}, []
    for folder in folders:
        result = json.loads((folder / "autoregressive.json").read_text())
        rows += result["rows"]
        heads.append(result["header"])
        args.budget_seconds, args.epochs = result["budget_seconds"], result["epochs"]
        with np.load(folder / "autoregressive_samples.npz") as samples:
            grids.update({k.replace("/", "\n"): samples[k] for k in samples.files})
    head = " ".join(f"Run {i + 1}: {h}" for i, h in enumerate(heads)) + " (combined with --combine)."
    write(rows, grids, head, args)


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--datasets", nargs="+", choices=["mnist", "fashion_mnist"], default=["mnist", "fashion_mnist"])
    parser.add_argument("--budget-seconds", type=float, default=300.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-limit", type=int, default=8000)
    parser.add_argument("--test-limit", type=int, default=2000)
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--whole-canvas", action="store_true", help="also time the whole-canvas sampling loop")
    parser.add_argument("--whole-canvas-images", type=int, default=16,
                        help="images drawn both ways for the whole-canvas comparison (default: 16)")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow's intra- and inter-op threads")
    parser.add_argument("--combine", nargs="+", type=Path, metavar="DIR",
                        help="write one table from these runs' --out folders (no training)")
    args = parser.parse_args(argv)
    if args.combine:
        return combine(args.combine, args)
    if args.quick:
        args.budget_seconds, args.train_limit, args.test_limit, args.num_samples = 5.0, 256, 100, 4
        args.whole_canvas_images = 2
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    load_before = os.getloadavg()
    rows, grids = [], {}
    for dataset in args.datasets:
        for name in args.models:
            row, images = run(dataset, name, args)
            rows.append(row)
            grids[f"{dataset}\n{name}"] = images
    load = [round(v, 1) for v in load_before + os.getloadavg()]
    note = f"1-minute load average at start / end: {load[0]} / {load[3]}"
    head = dated_header("autoregressive.py", (argv if argv is not None else sys.argv[1:]), args.seed,
                        note=note + (". QUICK RUN (not a measurement)" if args.quick else ""))
    write(rows, grids, head, args)


if __name__ == "__main__":
    main()
