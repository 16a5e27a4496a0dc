"""GAN sample quality against training time: a DCGAN on Fashion-MNIST (60,000 train images,
a preset's settings and batch size: the default one unless --preset), scored after every epoch.

    python benchmarks/gan_quality.py --epochs 12  # the default preset: about 12 minutes on 2 CPU cores
    python benchmarks/gan_quality.py --preset radford --epochs 3   # the classic settings
    python benchmarks/gan_quality.py --quick      # a smoke run of the same code

After each epoch, 2,000 samples (the same z every time) are scored against 2,000 test
images (seeded subset) with ``keras_gen.metrics.evaluate_samples`` on the shipped
Fashion-MNIST domain classifier: FID, KID, classifier score, precision/recall, classes
covered. Training time is the wall time of the epochs alone (scoring excluded).

Writes benchmarks/results/gan_quality.{md,json,png} (gan_quality_<preset>.* for a preset
other than the default) and prints the table.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras
from matplotlib.figure import Figure

from common import EpochTimer, benchmark_parser, header, write_results
from keras_gen import build_dcgan, datasets
from keras_gen.gan import PRESETS, describe_settings, preset_settings
from keras_gen.metrics import evaluate_samples

SCORES = ("fid", "kid", "classifier_score", "precision", "recall", "classes_covered")


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--preset", choices=sorted(PRESETS["dcgan"]), default="default",
                        help="the DCGAN preset to train, at its batch size")
    args = parser.parse_args(argv)
    batch_size = preset_settings("dcgan", args.preset)["batch_size"]
    limit, num = (512, 300) if args.quick else (None, args.num_samples)
    keras.utils.set_random_seed(args.seed)
    train, info = datasets.load("fashion_mnist", value_range=(-1, 1), batch_size=batch_size, seed=args.seed,
                                limit=limit, with_info=True)
    x_test, _, _ = datasets.load_arrays("fashion_mnist", split="test")
    gan = build_dcgan(info.image_shape, seed=args.seed, preset=args.preset)
    timer = EpochTimer()
    rows = []

    def score(epoch, logs):
        scores = evaluate_samples(x_test, gan, dataset="fashion_mnist", num_samples=num, seed=args.seed)
        row = {"epoch": epoch + 1, "train_seconds": round(sum(timer.seconds), 1),
               **{k: scores[k] for k in SCORES}}
        rows.append(row)
        print(row)
        return scores["protocol"]

    protocol = {}
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: protocol.update(score(epoch, logs)))
    gan.fit(train, epochs=1 if args.quick else args.epochs, callbacks=[timer, record], verbose=2)

    head = header("gan_quality.py", args.seed, args.quick)
    lines = [head, "", f"DCGAN preset {args.preset} ({describe_settings(preset_settings('dcgan', args.preset))}; "
             f"latent 100) on {info.num_examples} "
             f"Fashion-MNIST train images, batch {batch_size}. After each epoch: {num} samples "
             f"(fixed z, seed {args.seed}) "
             f"against {num} test images, features of {protocol['extractor']} (test accuracy "
             f"{protocol['extractor_test_accuracy']:.4f}; not InceptionV3). KID: {protocol['kid_subsets']} subsets "
             f"of {protocol['kid_subset_size']}.", "",
             "| epoch | training time (s) | FID | KID | classifier score | precision | recall | classes covered |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['epoch']} | {r['train_seconds']} | {r['fid']:.2f} | {r['kid']:.3f} | "
                     f"{r['classifier_score']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['classes_covered']} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.quick:
        name = "gan_quality" if args.preset == "default" else f"gan_quality_{args.preset}"
        write_results(args.out, name, table, {"header": head, "protocol": protocol, "rows": rows})
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        ax.plot([r["train_seconds"] for r in rows], [r["fid"] for r in rows], marker="o")
        ax.set_xlabel("training time (s), scoring excluded")
        ax.set_ylabel("FID (domain classifier features)")
        ax.set_title(f"DCGAN (preset {args.preset}) on Fashion-MNIST: FID against training time")
        ax.grid(alpha=0.3)
        fig.savefig(args.out / f"{name}.png", dpi=100, bbox_inches="tight")


if __name__ == "__main__":
    main()
