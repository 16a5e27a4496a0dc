"""Pieces every recipe shares: command-line flags, data preparation, the closing report.

Recipes in ``recipes/`` tell one story each (data -> build -> fit -> figures -> metric);
what they have in common lives here so it exists once.
"""

import argparse
import dataclasses
import warnings
from pathlib import Path

import keras
import numpy as np

from keras_gen import datasets, plotting


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def recipe_parser(doc, name, epochs, latent_dim=None, batch_size=128, dataset="mnist"):
    """An ``argparse`` parser with the flags every recipe takes.

    ``--dataset --data-dir --epochs --batch-size [--latent-dim] --out --seed --limit``.
    """
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default=dataset,
                        help=f"mnist, fashion_mnist, cifar10, a TFDS name or an image folder (default: {dataset})")
    parser.add_argument("--data-dir", default=None, help="folder holding the dataset's files, tried first")
    parser.add_argument("--epochs", type=_positive_int, default=epochs, help=f"default: {epochs}")
    parser.add_argument("--batch-size", type=_positive_int, default=batch_size, help=f"default: {batch_size}")
    if latent_dim is not None:
        parser.add_argument("--latent-dim", type=_positive_int, default=latent_dim, help=f"default: {latent_dim}")
    parser.add_argument("--out", type=Path, default=Path("outputs") / name,
                        help=f"output folder for figures and the model (default: outputs/{name})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and noise (default: 0)")
    parser.add_argument("--limit", type=_positive_int, default=None,
                        help="train on the first N training images only (quick runs)")
    return parser


@dataclasses.dataclass
class RecipeData:
    """Datasets and arrays a recipe works with.

    Attributes:
        train: ``(image, image)`` batches of the train split, shuffled.
        test: ``(image, image)`` batches of the test split, in order.
        x_test, y_test: the test split as numpy arrays (float [0, 1], int labels).
        info: ``DatasetInfo`` of the train split.
        test_info: ``DatasetInfo`` of the test split.
        out: the output folder (created).
    """

    train: object
    test: object
    x_test: np.ndarray
    y_test: np.ndarray
    info: datasets.DatasetInfo
    test_info: datasets.DatasetInfo
    out: Path

    @property
    def image_shape(self):
        return self.info.image_shape


def prepare(args):
    """Seeds everything, loads train and test splits and creates the output folder."""
    keras.utils.set_random_seed(args.seed)
    # fit warns that its shuffle flag is ignored for a tf.data.Dataset; ours shuffles itself.
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
    common = dict(batch_size=args.batch_size, seed=args.seed, data_dir=args.data_dir, with_info=True)
    try:
        train, info = datasets.load(args.dataset, split="train", limit=args.limit, **common)
        test, test_info = datasets.load(args.dataset, split="test", labels=True, shuffle=False, **common)
    except datasets.DatasetError as err:
        raise SystemExit(f"error: {err}") from None
    x_test, y_test = datasets.to_numpy(test)
    print(f"data: {info.num_examples} train images from {info.source}")
    print(f"data: {test_info.num_examples} test images from {test_info.source}")
    args.out.mkdir(parents=True, exist_ok=True)
    return RecipeData(
        datasets.as_autoencoder_pairs(train), datasets.as_autoencoder_pairs(test),
        x_test, y_test, info, test_info, args.out,
    )


def report_test_loss(model, test, data, args, what="test reconstruction loss"):
    """Evaluates ``model`` on ``test`` and prints the loss with its protocol."""
    loss = model.evaluate(test, verbose=0, return_dict=True)["loss"]
    loss_name = type(model.loss).__name__ if model.loss is not None else "loss"
    print(
        f"{what}: {loss:.4f} ({loss_name} per pixel, mean over {data.test_info.num_examples} "
        f"{data.test_info.name} test images; {args.epochs} epochs on {data.info.num_examples} "
        f"train images, batch {args.batch_size}, seed {args.seed})"
    )
    return loss


def finish(model, history, data, args):
    """Prints the test loss, saves the model and the training curves."""
    loss = report_test_loss(model, data.test, data, args)
    model.save(data.out / "model.keras")
    plotting.plot_history(
        history, title=f"{model.name} on {data.info.name}", val_label="test split", path=data.out / "training_curves.png"
    )
    print(f"wrote {data.out / 'model.keras'} and figures in {data.out}/")
    return loss
