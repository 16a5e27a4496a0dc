"""Pieces every recipe shares: command-line flags, data preparation, the closing report.

Recipes in ``recipes/`` tell one story each (data -> build -> fit -> figures -> metric);
what they have in common lives here so it exists once. It is the recipes' side of the
package (argparse, printing, ``SystemExit``), installed as ``keras_gen.recipes._common``;
the library never imports it. Importing it (its package, ``keras_gen.recipes``) first
hides TensorFlow's C++ start-up lines; set ``TF_CPP_MIN_LOG_LEVEL=0`` to see them.
"""

import argparse
import atexit
import dataclasses
import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_gen import classifiers, datasets, distribute, metrics, plotting
from keras_gen.autoregressive import exact_nll
from keras_gen.callbacks import ChiefBackupAndRestore, KLWarmUp, ModeCollapseMonitor, SampleGrid, StopOnNonFinite
from keras_gen.errors import DistributeError, NonFiniteModelError
from keras_gen.export import export_model
from keras_gen.gan import PRESETS, preset_settings
from keras_gen.latent import INTERPOLATIONS, interpolate
from keras_gen.layout import METADATA_FILE
from keras_gen.losses import GAN_LOSSES
from keras_gen.networks import CONDITIONINGS
from keras_gen.utils import PRECISIONS
from keras_gen.vae import evaluate_likelihood


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def recipe_parser(doc, name, epochs, latent_dim=None, batch_size=128, dataset="mnist", export=True, training=True):
    """An ``argparse`` parser with the flags every recipe takes.

    ``--dataset --data-dir --epochs --batch-size [--latent-dim] --out --seed --limit``;
    with ``training`` (recipes that call ``prepare`` and ``for_training``):
    ``--distribute --mixed-precision --jit-compile``; with ``export``: ``--export-name
    --export-dir --no-export`` for ``export_for_serving``.
    """
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default=dataset,
                        help=f"mnist, fashion_mnist, cifar10, a TFDS name or an image folder (default: {dataset})")
    parser.add_argument("--data-dir", default=None, help="folder holding the dataset's files, tried first")
    parser.add_argument("--epochs", type=_positive_int, default=epochs, help=f"default: {epochs}")
    parser.add_argument("--batch-size", type=_positive_int, default=batch_size,
                        help=f"default: {'the preset' + chr(39) + 's' if batch_size is None else batch_size}")
    if latent_dim is not None:
        parser.add_argument("--latent-dim", type=_positive_int, default=latent_dim, help=f"default: {latent_dim}")
    parser.add_argument("--out", type=Path, default=Path("outputs") / name,
                        help=f"output folder for figures and the model (default: outputs/{name})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and noise (default: 0)")
    parser.add_argument("--limit", type=_positive_int, default=None,
                        help="train on the first N training images only (quick runs)")
    if training:
        add_training_flags(parser)
    if export:
        parser.add_argument("--export-name", default=name,
                            help=f"export for TF-Serving to <export-dir>/<name>/<next version>/ (default: {name})")
        parser.add_argument("--export-dir", type=Path, default=Path("saved_models"),
                            help="TF-Serving model base folder (default: saved_models)")
        parser.add_argument("--no-export", action="store_true", help="do not export the model")
    return parser


def add_training_flags(parser):
    """Adds ``--distribute --mixed-precision --jit-compile`` (see ``setup_training``)."""
    parser.add_argument("--distribute", choices=distribute.STRATEGIES, default="none",
                        help="none (default); mirrored: every local GPU (the CPU when there is none); multi_worker: "
                             "the workers of TF_CONFIG. --batch-size is the global batch, split over the replicas")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="compute in float16, keep weights in float32 (mixed_float16; for GPUs)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    return parser


def setup_training(args):
    """``--distribute`` and ``--mixed-precision``: makes the strategy (before TensorFlow runs
    anything else, as ``multi_worker`` needs) and sets it as TensorFlow's default, so every
    model the recipe builds lives in it; sets the precision policy; checks that the global
    batch splits over the replicas. A worker that is not the chief writes its figures,
    model and export to a temporary folder, deleted at exit (TensorFlow's multi-worker
    guide: every worker runs the same program, one writes). ``end_training_setup`` undoes
    the global settings."""
    try:
        strategy = distribute.make_strategy(args.distribute)
        if args.distribute != "none":
            tf.distribute.experimental_set_strategy(strategy)
        distribute.check_global_batch(args.batch_size, strategy)
    except DistributeError as err:
        end_training_setup()
        raise SystemExit(f"error: {err}") from None
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if args.distribute != "none":
        task, index = distribute.worker_id(strategy)
        replicas = strategy.num_replicas_in_sync
        print(f"distribute: {type(strategy).__name__}, {replicas} replica(s) in sync; this process is {task} {index}; "
              f"global batch {args.batch_size} = {replicas} x {args.batch_size // replicas}")
        if not distribute.is_chief(strategy):
            scratch = Path(tempfile.mkdtemp(prefix=f"keras_gen_{task}{index}_"))
            atexit.register(shutil.rmtree, scratch, ignore_errors=True)
            for name in ("out", "export_dir", "tensorboard"):
                if getattr(args, name, None) is not None:
                    setattr(args, name, scratch / name)
            print(f"distribute: not the chief: this worker writes to {scratch} (deleted at exit); the chief writes "
                  f"the figures, model.keras and the export")
    if args.jit_compile:
        print("jit_compile: the training step is compiled with XLA")


def end_training_setup():
    """Back to TensorFlow's default strategy and the float32 policy (after a recipe run
    in-process, as ``keras-gen train`` and the tests do)."""
    tf.distribute.experimental_set_strategy(None)
    keras.mixed_precision.set_global_policy("float32")


def for_training(model, args):
    """``model`` set up for ``fit`` by the flags: XLA with ``--jit-compile``. Returns it."""
    if args.jit_compile:
        model.jit_compile = True
    return model


@dataclasses.dataclass
class RecipeData:
    """Datasets and arrays a recipe works with.

    Attributes:
        train: batches of the train split, shuffled: ``(image, image)`` pairs for
            autoencoders, ``(image, label)`` with ``labels=True``.
        test: batches of the test split, in order, shaped like ``train``.
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


def prepare(args, labels=False, binarize=None, value_range=(0.0, 1.0)):
    """Seeds everything, loads train and test splits and creates the output folder.

    Args:
        labels: batches are ``(images, labels)`` (VAEs, conditional models), not
            ``(images, images)`` pairs (autoencoders).
        binarize: ``datasets.load``'s binarization of the train split; the test split
            is binarized once, with a fixed seed (``"static"``), for ``"static"`` and
            ``"dynamic"`` alike, so every evaluation sees the same test images.
        value_range: range of the train split's images ((-1, 1) for tanh GANs); the
            test split and ``x_test`` stay in [0, 1].
    """
    setup_training(args)
    keras.utils.set_random_seed(args.seed)
    # fit warns that its shuffle flag is ignored for a tf.data.Dataset; ours shuffles itself.
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
    common = dict(batch_size=args.batch_size, seed=args.seed, data_dir=args.data_dir, with_info=True)
    test_binarize = "static" if binarize == "dynamic" else binarize
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    try:  # several replicas: no last, smaller batch, which they could not share evenly
        train, info = datasets.load(args.dataset, split="train", limit=args.limit, labels=labels, binarize=binarize,
                                    value_range=value_range, drop_remainder=replicas > 1, **common)
        test, test_info = datasets.load(args.dataset, split="test", labels=True, shuffle=False,
                                        binarize=test_binarize, **common)
    except datasets.DatasetError as err:
        raise SystemExit(f"error: {err}") from None
    x_test, y_test = datasets.to_numpy(test)
    print(f"data: {info.num_examples} train images from {info.source}")
    print(f"data: {test_info.num_examples} test images from {test_info.source}")
    if binarize:
        print(f"data: binarized ({binarize} on train, {test_binarize} on test, seed {args.seed})")
    args.out.mkdir(parents=True, exist_ok=True)
    if not labels:
        train, test = datasets.as_autoencoder_pairs(train), datasets.as_autoencoder_pairs(test)
    return RecipeData(train, test, x_test, y_test, info, test_info, args.out)


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


def export_for_serving(model, data, args):
    """Unless ``--no-export``: exports ``model`` with every signature it supports
    (``export.export_model``) and prints them. Returns the version folder or None."""
    if args.no_export:
        return None
    try:
        path = export_model(model, args.export_name, base_dir=args.export_dir, dataset=data.info.name)
    except NonFiniteModelError as err:
        raise SystemExit(f"error: not exported: {err}") from None
    signatures = json.loads((path / METADATA_FILE).read_text())["signatures"]
    print(f"exported for TF-Serving to {path}/ with signatures: " + "; ".join(
        f"{name} ({', '.join(spec['inputs'])} -> {', '.join(spec['outputs'])})" for name, spec in signatures.items()))
    return path


def save_and_export(model, history, data, args):
    """The end of every recipe: writes ``model.keras`` and ``training_curves.png`` to the
    output folder and exports the model for serving (``export_for_serving``)."""
    model.save(data.out / "model.keras")
    plotting.plot_history(history, title=f"{model.name} on {data.info.name}", val_label="test split",
                          path=data.out / "training_curves.png")
    print(f"wrote {data.out / 'model.keras'} and figures in {data.out}/")
    if tf.distribute.has_strategy():  # a SavedModel cannot hold a strategy's variables: export the saved copy
        tf.distribute.experimental_set_strategy(None)
        model = keras.models.load_model(data.out / "model.keras")
    return export_for_serving(model, data, args)


def finish(model, history, data, args):
    """Prints the test loss, saves the model and the training curves, exports the model."""
    loss = report_test_loss(model, data.test, data, args)
    save_and_export(model, history, data, args)
    return loss


BINARIZE_CHOICES = ("none", "threshold", "static", "dynamic")


def add_vae_flags(parser):
    """Adds the flags both VAE recipes take: likelihood, beta, warm-up, binarization,
    architecture and importance samples."""
    parser.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli",
                        help="p(x|z): bernoulli (binary cross-entropy) or gaussian (learned variance)")
    parser.add_argument("--beta", type=float, default=1.0, help="KL weight (beta-VAE; default: 1)")
    parser.add_argument("--warmup-epochs", type=float, default=0.0,
                        help="raise beta linearly from 0 over this many epochs (default: 0, no warm-up)")
    parser.add_argument("--binarize", choices=BINARIZE_CHOICES, default=None,
                        help="binarize pixels as in the likelihood literature (default: dynamic for the "
                             "bernoulli likelihood, none for gaussian)")
    parser.add_argument("--architecture", choices=("dense", "conv"), default="dense",
                        help="dense (784-512-z MLP, the default) or conv (two stride-2 convolutions)")
    parser.add_argument("--iw-samples", type=_positive_int, default=100,
                        help="K, importance samples per test image for the NLL bound (default: 100)")
    return parser


def vae_settings(args):
    """Checks the VAE flags and returns the binarization mode (None for none)."""
    if args.beta < 0:
        raise SystemExit(f"error: --beta must be >= 0, got {args.beta}")
    if args.warmup_epochs < 0:
        raise SystemExit(f"error: --warmup-epochs must be >= 0, got {args.warmup_epochs}")
    if args.binarize is None:
        args.binarize = "dynamic" if args.likelihood == "bernoulli" else "none"
    return None if args.binarize == "none" else args.binarize


def vae_callbacks(args):
    return [KLWarmUp(epochs=args.warmup_epochs)] if args.warmup_epochs > 0 else []


def finish_vae(vae, history, data, args):
    """Prints test ELBO and importance-weighted NLL with their protocol, saves the
    model and the training curves, and exports the decoder for serving."""
    print(f"estimating test likelihood: K={args.iw_samples} importance samples for each of "
          f"{data.test_info.num_examples} test images ...")
    result = evaluate_likelihood(vae, data.test, num_samples=args.iw_samples, seed=args.seed)
    binarized = "not binarized" if args.binarize == "none" else f"binarized: {args.binarize} train / " + (
        "static" if args.binarize == "dynamic" else args.binarize) + " test"
    conditional = " given the label, log p(x|y)" if vae.conditional else ""
    protocol = (f"{result['likelihood']} likelihood, mean over {result['num_images']} {data.test_info.name} test "
                f"images ({binarized}); {args.epochs} epochs on {data.info.num_examples} train images, "
                f"latent_dim {vae.latent_dim}, beta {args.beta}, batch {args.batch_size}, seed {args.seed}")
    print(f"test negative ELBO: {result['negative_elbo']:.2f} nats/image "
          f"({result['negative_elbo_bits_per_dim']:.4f} bits/dim){conditional}; {protocol}")
    print(f"test importance-weighted NLL: {result['iw_nll']:.2f} nats/image "
          f"({result['iw_nll_bits_per_dim']:.4f} bits/dim){conditional}; K={result['num_samples']} "
          f"(Burda et al. 2016 bound), seed {args.seed}; {protocol}")
    if args.likelihood == "gaussian":
        print("note: the Gaussian likelihood is a density on continuous pixels; its nats are not comparable "
              "with discrete (binarized) likelihoods.")
    save_and_export(vae, history, data, args)
    return result


# ----------------------------------------------------------------------------- GANs


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def add_gan_flags(parser, family=None, sample_every=1):
    """Adds the flags every adversarial recipe takes: sample grids, TensorBoard,
    backup/resume and the number of samples scored; with ``family`` (a key of
    ``keras_gen.gan.PRESETS``) also ``--preset`` and one flag per setting of its presets
    (network, loss, optimizers, EMA...), each defaulting to the preset's (see
    ``gan_settings``)."""
    if family is not None:
        presets = PRESETS[family]
        default, classic = presets["default"], ", ".join(sorted(set(presets) - {"default"}))
        parser.add_argument("--preset", choices=sorted(presets), default="default",
                            help="starting settings, which the flags below change: default (chosen by measured sample "
                                 f"quality per second of CPU training, see the README) or {classic} (the paper's)")
        given = "(default: the preset's)"
        if "hidden_units" in default:
            parser.add_argument("--hidden-units", type=_positive_int, nargs="+", default=None,
                                help=f"generator layer sizes; the discriminator uses them reversed {given}")
        if "filters" in default:
            parser.add_argument("--filters", type=_positive_int, default=None,
                                help=f"width of D's first layer, doubled per stage; G mirrors D {given}")
        if "spectral_norm" in default:
            parser.add_argument("--spectral-norm", action=argparse.BooleanOptionalAction, default=None,
                                help=f"spectral normalization in D instead of batch norm {given}")
        if "extra_layers" in default:
            parser.add_argument("--extra-layers", type=_non_negative_int, default=None,
                                help=f"stride-1 3x3 convolutions added to G and D at half the image size {given}")
        if "minibatch_stddev" in default:
            parser.add_argument("--minibatch-stddev", action=argparse.BooleanOptionalAction, default=None,
                                help=f"give D a channel of the batch's variety (Karras et al. 2018) {given}")
        if "precision" in default:
            parser.add_argument("--precision", choices=PRECISIONS, default=None,
                                help="the dtype policy G and D compute in; auto: the global one when set (e.g. by "
                                     "--mixed-precision), else mixed_bfloat16 on a CPU with native bfloat16 and no "
                                     f"GPU, else float32 {given}")
        if "conditioning" in default:
            parser.add_argument("--conditioning", choices=CONDITIONINGS, default=None,
                                help=f"how D sees the label: an extra image channel or projection {given}")
        if "auxiliary_classifier" in default:
            parser.add_argument("--auxiliary-classifier", action=argparse.BooleanOptionalAction, default=None,
                                help=f"AC-GAN: a class head on D, whose cross-entropy joins both losses {given}")
            parser.add_argument("--class-weight", type=_non_negative_float, default=None,
                                help=f"weight of the class head's cross-entropy {given}")
        parser.add_argument("--loss", choices=GAN_LOSSES, default=None, help=f"GAN loss {given}")
        parser.add_argument("--d-steps", type=_positive_int, default=None,
                            help=f"discriminator updates per generator update {given}")
        if "gp_weight" in default:
            parser.add_argument("--gp-weight", type=_non_negative_float, default=None,
                                help=f"weight of the gradient penalty {given}")
        if "r1_weight" in default:
            parser.add_argument("--r1-weight", type=_non_negative_float, default=None,
                                help=f"gamma of the R1 penalty on real images, 0 for none {given}")
        parser.add_argument("--ema", type=float, default=None,
                            help="sample from an exponential moving average of the generator's weights with this "
                                 f"decay, e.g. 0.999; 0 turns it off {given}")
        for net in ("d", "g"):
            parser.add_argument(f"--{net}-learning-rate", type=float, default=None,
                                help=f"Adam's learning rate for {'D' if net == 'd' else 'G'} {given}")
        for beta in ("beta_1", "beta_2"):
            parser.add_argument(f"--{beta.replace('_', '-')}", type=float, default=None,
                                help=f"Adam's {beta}, both networks {given}")
    parser.add_argument("--sample-every", type=_positive_int, default=sample_every,
                        help=f"write a sample grid from fixed noise every N epochs (default: {sample_every})")
    parser.add_argument("--tensorboard", type=Path, default=None,
                        help="write TensorBoard logs (losses, sample images) to this folder")
    parser.add_argument("--backup-dir", type=Path, default=None,
                        help="back up weights and optimizer state every epoch; an interrupted run started again "
                             "with the same command resumes from the last finished epoch")
    parser.add_argument("--metric-samples", type=_positive_int, default=2000,
                        help="generated and test images for FID, KID and the other sample-quality scores at the end "
                             "(default: 2000, at most the test split's size)")
    return parser


def gan_settings(args, family):
    """The settings of ``--preset`` with the flags given; sets ``args.batch_size`` to the
    preset's when ``--batch-size`` was not given. Returns the settings dict (pass it to
    ``keras_gen.gan.settings_arguments`` for the builder)."""
    settings = preset_settings(family, args.preset)
    for key in settings:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = tuple(value) if key == "hidden_units" else value
    if args.ema is not None:
        if args.ema != 0 and not 0.0 < args.ema < 1.0:
            raise SystemExit(f"error: --ema must be 0 (off) or a decay in (0, 1) such as 0.999, got {args.ema}")
        settings["ema"] = args.ema or None
    for key in ("d_learning_rate", "g_learning_rate", "beta_1", "beta_2"):
        if key.endswith("rate") and not settings[key] > 0 or key.startswith("beta") and not 0 <= settings[key] < 1:
            wanted = "> 0" if key.endswith("rate") else "in [0, 1)"
            raise SystemExit(f"error: --{key.replace('_', '-')} must be {wanted}, got {settings[key]}")
    if args.batch_size is None:
        args.batch_size = settings["batch_size"]
    settings["batch_size"] = args.batch_size
    return settings


def report_sample_quality(gan, data, args):
    """Prints FID, KID, classifier score, precision/recall and mode coverage (and the
    conditional accuracy of a conditional GAN) of the GAN's samples against the test
    split, with the protocol; skipped when no domain classifier exists for the dataset.
    Returns the scores, or None."""
    name = data.info.name
    try:
        classifiers.domain_classifier(name, train=False)
    except (FileNotFoundError, TypeError):
        print(f"sample quality: skipped, no domain classifier for {name!r} yet "
              f"(train one with: python recipes/domain_classifier.py --dataset {name})")
        return None
    num = min(args.metric_samples, len(data.x_test))
    scores = metrics.evaluate_samples(data.x_test, gan, dataset=name, num_samples=num, seed=args.seed)
    protocol = scores["protocol"]
    conditional = (f"; conditional accuracy {scores['conditional_accuracy']:.3f}"
                   if "conditional_accuracy" in scores else "")
    print(f"sample quality: FID {scores['fid']:.2f}, KID {scores['kid']:.3f} +- {scores['kid_std']:.3f}, "
          f"classifier score {scores['classifier_score']:.2f} "
          f"(real test images: {scores['real_classifier_score']:.2f}), "
          f"precision {scores['precision']:.3f}, recall {scores['recall']:.3f}, classes covered "
          f"{scores['classes_covered']}/{scores['num_classes']}, KL(real || generated classes) "
          f"{scores['kl_real_generated']:.3f}, diversity score exp(-KL(generated || real classes)) "
          f"{scores['diversity_score']:.3f}{conditional}")
    print(f"  protocol: {protocol['num_generated']} samples (seed {args.seed}) against {protocol['num_real']} "
          f"{data.test_info.name} test images; features and logits of {protocol['extractor']} (test accuracy "
          f"{protocol['extractor_test_accuracy']:.4f}), not InceptionV3, so not comparable with published FIDs; "
          f"KID: {protocol['kid_subsets']} subsets of {protocol['kid_subset_size']}; precision/recall: "
          f"k={protocol['k']}; {args.epochs} epochs on {data.info.num_examples} train images")
    return scores


def gan_callbacks(args, gan, data):
    """Sample grids from fixed noise, NaN/inf stop, mode-collapse warning, and the optional
    TensorBoard and BackupAndRestore callbacks. Returns ``(callbacks, stop_callback)``."""
    ncols = gan.num_classes if gan.conditional else 8
    stop = StopOnNonFinite()
    callbacks = [
        stop,
        SampleGrid(data.out, every=args.sample_every, num=ncols * 8, ncols=ncols, seed=args.seed,
                   log_dir=None if args.tensorboard is None else str(args.tensorboard)),
        ModeCollapseMonitor(data.x_test, num=min(256, len(data.x_test)), seed=args.seed),
    ]
    if args.tensorboard is not None:
        callbacks.append(keras.callbacks.TensorBoard(str(args.tensorboard)))
    if args.backup_dir is not None:
        callbacks.append(ChiefBackupAndRestore(str(args.backup_dir), data=data.train))
    return callbacks, stop


def fit_gan(gan, data, args):
    """Prints both networks' summaries and trains the GAN on the train split with
    ``gan_callbacks``. Returns ``(history, stop_callback)`` for ``finish_gan``."""
    gan.generator.summary()
    gan.discriminator.summary()
    callbacks, stop = gan_callbacks(args, gan, data)
    return for_training(gan, args).fit(data.train, epochs=args.epochs, callbacks=callbacks), stop


def interpolation_rows(gan, seed, pairs=3, steps=10):
    """Rows of images generated between pairs of random latent vectors, linear and
    spherical, for each pair (a conditional GAN keeps one class per row)."""
    z = gan.latent_vectors(2 * pairs, seed=seed)
    rows = {}
    for i in range(pairs):
        for method in INTERPOLATIONS:
            path = interpolate(z[2 * i], z[2 * i + 1], steps=steps, method=method)
            if gan.conditional:
                label = i % gan.num_classes
                images, name = gan.generate(np.full(steps, label), z=path), f"class {label}, {method}"
            else:
                images, name = gan.generate(z=path), f"pair {i + 1}, {method}"
            rows[name] = images
    return rows


def finish_gan(gan, history, stop, data, args, settings=None):
    """After ``fit``: stops with an error when the losses went NaN/inf; else draws the
    final samples, the interpolation figure and the training curves, prints sample
    diversity and sample quality with their protocol, saves the model and exports the
    generator. ``settings`` describes the training in the printed protocol (default: a
    ``GAN``'s loss and d_steps)."""
    settings = f"loss {gan.gan_loss}, d_steps {gan.d_steps}" if settings is None else settings
    if stop.message is not None:
        raise SystemExit(f"error: {stop.message}")
    ncols = gan.num_classes if gan.conditional else 8
    plotting.plot_image_grid(gan.sample(ncols * 8, seed=args.seed), ncols=ncols, path=data.out / "samples.png",
                             title=f"{gan.name}: samples after {args.epochs} epochs (seed {args.seed})")
    plotting.plot_image_rows(interpolation_rows(gan, args.seed), path=data.out / "interpolation.png",
                             title="Generated along lines in z space: linear and spherical (slerp)")
    if "diversity" in history.history:
        num = min(256, len(data.x_test))
        print(f"sample diversity: {history.history['diversity'][-1]:.3f} (mean pairwise L2 distance of {num} samples "
              f"/ that of {num} {data.test_info.name} test images, seed {args.seed}; about 1 when healthy, near 0 "
              f"under mode collapse; {args.epochs} epochs on {data.info.num_examples} train images, "
              f"{settings}, batch {args.batch_size})")
    report_sample_quality(gan, data, args)
    save_and_export(gan, history, data, args)


def add_autoregressive_flags(parser):
    """Adds the flags the autoregressive recipes share: --levels, --binarize,
    --conditional, --samples."""
    parser.add_argument("--levels", type=int, choices=(2, 256), default=2,
                        help="2: binarized pixels, Bernoulli output (default); 256: 8-bit pixels, softmax")
    parser.add_argument("--binarize", choices=("static", "dynamic"), default="static",
                        help="binarization of the train split for --levels 2 (the test split is always static)")
    parser.add_argument("--conditional", action="store_true", help="condition on the class label")
    parser.add_argument("--samples", type=_positive_int, default=64, help="images in samples.png (default: 64)")
    return parser


def finish_autoregressive(model, history, data, args, binarize, settings, published=None):
    """The end of the autoregressive recipes: prints the exact test NLL (and the class
    mixture's for a conditional model) with its protocol, draws ``samples.png`` (one row
    per class when conditional) timing the sampler, saves the model and exports it.
    ``settings`` describes the network in the printed protocol; ``published`` is printed
    beside the result when given. Returns ``exact_nll``'s result."""
    result = exact_nll(model, data.test, marginal=model.conditional)
    pixels = "binarized: " + ("static train / static test" if binarize == "static" else
                              "dynamic train / static test") if binarize else "256 levels, as stored"
    given = " -log p(x|y), given the label" if model.conditional else ""
    print(f"test NLL: {result['nll']:.2f} nats/image (+- {result['nll_std_error']:.2f} s.e.; "
          f"{result['bits_per_dim']:.4f} bits/dim), exact{given}; mean over {result['num_images']} "
          f"{data.test_info.name} test images ({pixels}, seed {args.seed}); {args.epochs} epochs on "
          f"{data.info.num_examples} train images, {settings}, batch {args.batch_size}, seed {args.seed}")
    if model.conditional:
        print(f"test NLL of the class mixture, -log p(x) = -log mean_y p(x|y) (uniform prior over the "
              f"{model.num_classes} classes): {result['marginal_nll']:.2f} nats/image "
              f"({result['marginal_bits_per_dim']:.4f} bits/dim), exact; same images and protocol")
    if published:
        print(f"({published})")

    start = time.perf_counter()
    kind = type(model).__name__
    if model.conditional:
        per_class = max(1, -(-args.samples // model.num_classes))
        names = data.test_info.class_names
        rows = {names[k]: model.generate([k] * per_class, seed=args.seed + k) for k in range(model.num_classes)}
        count = per_class * model.num_classes
        plotting.plot_image_rows(rows, title=f"{kind} samples by class (seed {args.seed})",
                                 path=data.out / "samples.png", cell_inches=0.8)
    else:
        images = model.sample(args.samples, seed=args.seed)
        count = len(images)
        plotting.plot_image_grid(images, title=f"{kind} samples (seed {args.seed})", path=data.out / "samples.png")
    print(f"sampled {count} images in {time.perf_counter() - start:.1f} s (one compiled loop over "
          f"{int(np.prod(model.image_shape))} pixel steps, tracing included)")
    save_and_export(model, history, data, args)
    return result

