"""Reference values of keras_gen's sample-quality metrics on real data.

    python benchmarks/metrics_reference.py             # about 5 minutes on 2 shared CPU cores
    python benchmarks/metrics_reference.py --quick     # a smoke run of the same code

For fashion_mnist (Debian's 60,000/10,000 split) and the bundled MNIST (train: images
0-7999, test: 8000-9999 of the real MNIST test split), with each dataset's shipped domain
classifier as the feature extractor: the "real" set is a seeded subset of N images of the
first half of the train split, compared with N images of
  * the other half of the train split (the same distribution: the floor),
  * the test split,
  * the other half blurred with a 3x3 box filter,
  * uniform noise,
  * one class of the other half (fewer than N images: both sets then use that count).
Every row is one ``keras_gen.metrics.evaluate_samples`` call (seed 0): FID, KID (mean +-
std over 100 subsets of min(1000, n)), the classifier score of the compared set and of
the real set, improved precision/recall (k=3), classes covered and both KLs of the class
histograms. Numbers depend on N: compare only rows with equal counts.

Writes benchmarks/results/metrics_reference.{md,json} and prints the table.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import tensorflow as tf

from common import benchmark_parser, header, write_results
from keras_gen import datasets
from keras_gen.classifiers import domain_classifier
from keras_gen.metrics import evaluate_samples

ONE_CLASS = {"fashion_mnist": 1, "mnist": 1}  # trousers; the digit 1


def comparisons(name, num_samples, seed):
    """(label, real, other) triples of uint8/float image arrays of one dataset."""
    x_train, y_train, _ = datasets.load_arrays(name, split="train")
    x_test, _, _ = datasets.load_arrays(name, split="test", labels=False)
    half = len(x_train) // 2
    rng = np.random.default_rng(seed)
    pick = lambda x, n=num_samples: x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]  # noqa: E731
    real, other = pick(x_train[:half]), pick(x_train[half:])
    blurred = tf.nn.avg_pool2d(other.astype(np.float32) / 255.0, 3, 1, "SAME").numpy()
    noise = rng.random(real.shape, dtype=np.float32)
    label = ONE_CLASS[name]
    one_class = pick(x_train[half:][y_train[half:] == label])
    class_name = datasets.CLASS_NAMES[name][label]
    return [("train (other half)", real, other), ("test split", real, pick(x_test)),
            ("train, 3x3 box blur", real, blurred), ("uniform noise", real, noise),
            (f"one class ('{class_name}') of train", real[:len(one_class)], one_class)]


def measure(name, num_samples, seed):
    _, info = domain_classifier(name)
    rows = []
    for label, real, other in comparisons(name, num_samples, seed):
        n = min(len(real), len(other))
        scores = evaluate_samples(real, other, dataset=name, num_samples=n, seed=seed)
        row = {"dataset": name, "compared": label, **{k: v for k, v in scores.items() if k != "protocol"},
               "protocol": scores["protocol"]}
        rows.append(row)
        print(f"{name:13s} {label:28s} n={n:5d} FID {scores['fid']:8.3f} KID {scores['kid']:.4f} "
              f"CS {scores['classifier_score']:.2f} P {scores['precision']:.3f} R {scores['recall']:.3f} "
              f"covered {scores['classes_covered']}/{scores['num_classes']}", flush=True)
    extractor = {"extractor_test_accuracy": info["test_accuracy"], "train_split": info["train_split"],
                 "train_images": info["train_images"], "test_images": info["test_images"]}
    return rows, extractor


def table(rows, extractors, head):
    lines = [f"# Sample-quality metrics on real data\n\n{head}\n",
             "Extractor: each dataset's shipped keras_gen domain classifier (penultimate 128 features, logits); "
             "values are not comparable with InceptionV3-based numbers.\n"]
    for name, info in extractors.items():
        lines.append(f"- {name}: test accuracy {info['extractor_test_accuracy']:.4f} on {info['test_images']} test "
                     f"images; trained on {info['train_images']} images ({info['train_split']})")
    lines += ["", "| dataset | real vs | n | FID | KID (+- std) | CS | CS real | precision | recall | covered "
                  "| KL(real‖gen) | KL(gen‖real) |", "|---" * 12 + "|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['compared']} | {r['protocol']['num_generated']} | {r['fid']:.3f} | "
                     f"{r['kid']:.4f} +- {r['kid_std']:.4f} | {r['classifier_score']:.2f} | "
                     f"{r['real_classifier_score']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['classes_covered']}/{r['num_classes']} | {r['kl_real_generated']:.3f} | "
                     f"{r['kl_generated_real']:.3f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = benchmark_parser(__doc__)
    parser.add_argument("--num-samples", type=int, default=2000, help="N, images per set (default: 2000)")
    args = parser.parse_args()
    num_samples = 300 if args.quick else args.num_samples
    rows, extractors = [], {}
    for name in ("fashion_mnist", "mnist"):
        measured, extractors[name] = measure(name, num_samples, args.seed)
        rows += measured
    head = header("metrics_reference.py", args.seed, args.quick) + f", N = {num_samples} images per set"
    text = table(rows, extractors, head)
    print(text)
    write_results(args.out, "metrics_reference", text,
                  {"header": head, "num_samples": num_samples, "extractors": extractors, "rows": rows})


if __name__ == "__main__":
    main()
