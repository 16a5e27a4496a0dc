"""The domain classifier behind keras_gen's sample-quality metrics (FID, KID, classifier
score, mode coverage, precision/recall): a small CNN trained on a dataset's train split,
whose penultimate features and logits replace InceptionV3's for 28x28 data.

    python recipes/domain_classifier.py                              # bundled MNIST, ~3 minutes
    python recipes/domain_classifier.py --dataset fashion_mnist      # 60,000 images, ~15-30 minutes
    python recipes/domain_classifier.py --dataset fashion_mnist --install

Trains with the same library function and recipe (``CLASSIFIER_RECIPE``: 12 epochs,
batch 128, Adam 1e-3 with cosine decay, seed 0) that made the weights shipped in
keras_gen/data/classifiers/, prints the test accuracy and classifier score with their
protocol, and writes <dataset>.weights.h5 and <dataset>.json to --out (with --install:
into keras_gen/data/classifiers/, replacing the shipped files), plus
misclassified.png (in --out): test images the classifier gets wrong, by true class.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import datasets, metrics, plotting
from keras_gen.classifiers import (
    CLASSIFIER_RECIPE,
    SHIPPED_CLASSIFIER_DIR,
    FeatureExtractor,
    save_domain_classifier,
    train_domain_classifier,
)
from keras_gen.recipes._common import recipe_parser


def main(argv=None):
    parser = recipe_parser(__doc__, "domain_classifier", epochs=CLASSIFIER_RECIPE["epochs"],
                           batch_size=CLASSIFIER_RECIPE["batch_size"], export=False, training=False)
    parser.add_argument("--install", action="store_true",
                        help=f"write the weights and JSON into {SHIPPED_CLASSIFIER_DIR} (the shipped files)")
    args = parser.parse_args(argv)
    try:
        model, info = train_domain_classifier(args.dataset, epochs=args.epochs, batch_size=args.batch_size,
                                              seed=args.seed, limit=args.limit, data_dir=args.data_dir)
    except datasets.DatasetError as err:
        raise SystemExit(f"error: {err}") from None
    protocol = (f"{info['test_images']} images of {info['dataset']} {info['test_split']}; trained on "
                f"{info['train_images']} images of {info['train_split']}, {args.epochs} epochs, batch "
                f"{args.batch_size}, seed {args.seed}")
    print(f"test accuracy: {info['test_accuracy']:.4f} ({protocol})")
    x_test, y_test, test_info = datasets.load_arrays(args.dataset, split="test", data_dir=args.data_dir)
    logits = FeatureExtractor(model)(x_test)[1]
    info["test_classifier_score"] = round(metrics.inception_score(logits, num_splits=10, seed=0)[0], 4)
    print(f"test classifier score: {info['test_classifier_score']:.3f} (Inception-score formula, 10 splits; "
          f"{protocol})")
    out = SHIPPED_CLASSIFIER_DIR if args.install else args.out
    key = info["dataset"]
    path = save_domain_classifier(model, info, out, key)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB) and {out / (key + '.json')}")

    predicted = logits.argmax(1)
    wrong = predicted != y_test
    names = test_info.class_names
    rows = {f"{names[c]} ({wrong[y_test == c].sum()} wrong)": x_test[wrong & (y_test == c)][:8] / 255.0
            for c in range(len(names)) if (wrong & (y_test == c)).any()}
    plotting.plot_image_rows(rows, title=f"Misclassified {test_info.name} test images, by true class",
                             path=args.out / "misclassified.png")
    return info


if __name__ == "__main__":
    main()
