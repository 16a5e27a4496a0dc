"""The ``keras-gen`` command: train, sample, evaluate, export and list models.

A thin layer over the library: ``train`` runs the recipes (``keras_gen.recipes``, the
scripts in ``recipes/``), ``sample`` and ``evaluate`` use ``keras_gen.serving``, and
``export`` uses ``keras_gen.export.export_model``.

Exit codes, chosen by the exception's type: 0 success; 1 the work failed (a missing or
foreign file, an existing export version, a model that was never trained, training that
diverged: ``KerasGenError`` and OS errors); 2 a bad command line (unknown command or flag,
and ``InvalidInputError``: a label out of range, z of the wrong size).

The command imports TensorFlow only when a command needs it, and shows TensorFlow's C++
start-up log lines only with ``--verbose`` (or an explicit ``TF_CPP_MIN_LOG_LEVEL``).
"""

import argparse
import importlib
import importlib.util
import json
import pkgutil
import sys
from pathlib import Path

from keras_gen_cli import quiet_tensorflow

EPILOG = ("exit codes: 0 success; 1 the work failed (missing or foreign file, existing export version, untrained "
          "model, diverged training); 2 bad command line (unknown command or flag, label out of range, wrong z size)")


class UsageError(Exception):
    """Bad command-line input found after parsing (exit code 2)."""


def _recipes_dir():
    """The folder of ``keras_gen.recipes``, found without running the package (which
    loads TensorFlow)."""
    return Path(importlib.util.find_spec("keras_gen.recipes").submodule_search_locations[0])


def recipe_names():
    """Models ``keras-gen train`` knows: the recipes shipped in ``keras_gen.recipes``."""
    return sorted(module.name for module in pkgutil.iter_modules([str(_recipes_dir())])
                  if not module.name.startswith("_"))


def _summary(module_name):
    """First line of a recipe's docstring, read without importing it (no TensorFlow start-up)."""
    path = _recipes_dir() / f"{module_name}.py"
    text = path.read_text().split('"""')
    return text[1].strip().splitlines()[0] if len(text) > 1 else ""


# ----------------------------------------------------------------------------- commands


def train(args):
    if args.model not in recipe_names():
        raise UsageError(f"unknown model {args.model!r}; choose one of: {', '.join(recipe_names())}")
    recipe = importlib.import_module(f"keras_gen.recipes.{args.model}")
    sys.argv[0] = f"keras-gen train {args.model}"  # the recipe's --help and errors name this command
    try:
        recipe.main(args.recipe_args)
    finally:  # the recipe's --distribute and --mixed-precision are process-wide settings
        from keras_gen.recipes._common import end_training_setup

        end_training_setup()


def _load_keras_model(path):
    import keras

    import keras_gen

    keras_gen.register_keras_objects()
    from keras_gen.errors import ModelFileError

    try:
        return keras.models.load_model(path)
    except Exception as err:  # a corrupt or foreign file: say what it is, not a traceback
        raise ModelFileError(f"cannot load {path} as a Keras model: {type(err).__name__}: {str(err)[:300]}") from None


def _read_z(path):
    import numpy as np

    try:
        z = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"--z {path}: no such file") from None
    except (OSError, ValueError, EOFError):
        raise UsageError(f"--z {path}: not a .npy array file (write it with numpy.save)") from None
    if not isinstance(z, np.ndarray) or z.dtype.kind not in "fiu":
        raise UsageError(f"--z {path}: expected a numeric .npy array of latent vectors, got {type(z).__name__}")
    return z


def sample(args):
    import numpy as np

    from keras_gen import plotting
    from keras_gen.errors import KerasGenError, NonFiniteModelError
    from keras_gen.serving import load_export

    for flag, value in (("--n", args.n), ("--ncols", args.ncols), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be >= 1, got {value}")
    source = Path(args.source)
    if source.suffix == ".keras":
        if not source.is_file():
            raise FileNotFoundError(f"{source} does not exist.")
        images = _sample_keras_model(_load_keras_model(source), args)
    else:
        served = load_export(source)
        if args.z is not None:
            images = served.decode(served.check_z(_read_z(args.z)), labels=args.label)
        else:
            served.check_labels(args.label, args.n)
            images = served.sample(args.n, seed=args.seed, labels=args.label, batch_size=args.batch_size,
                                   progress=True)
        source = served.path
    if not np.isfinite(images).all():
        raise NonFiniteModelError(f"{source} made images holding NaN or inf: the model's training diverged; "
                                  "nothing was written.")
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".npy":
            np.save(out, images)
        else:
            plotting.plot_image_grid(images, ncols=args.ncols, path=out,
                                     title=f"{len(images)} samples from {source} (seed {args.seed})")
    except OSError as err:
        raise KerasGenError(f"cannot write {out}: {err.strerror or err} ({err.filename or out})") from None
    print(f"wrote {len(images)} images ({images.shape[1:]}, [0, 1]) to {out}")


def _sample_keras_model(model, args):
    from keras_gen.base import GenerativeModel
    from keras_gen.errors import UnsupportedModelError
    from keras_gen.utils import check_finite_weights, check_labels

    if not isinstance(model, GenerativeModel):
        raise UnsupportedModelError(f"{args.source} holds a {type(model).__name__} ({model.name!r}), which has no "
                                    "prior to sample from; sampling needs a keras_gen generative model (VAE, GAN, "
                                    "PixelCNN, ...).")
    if args.label is not None and not model.conditional:
        raise UsageError(f"{model.name!r} is not conditional: it takes no --label.")
    if args.z is not None:
        raise UsageError("--z works with exports (keras-gen export first); for a .keras file use --seed.")
    check_finite_weights(model, what="sample from it")
    if args.label is None:
        return model.sample(args.n, seed=args.seed)
    return model.generate(check_labels([args.label] * args.n, model.num_classes, what="--label"), seed=args.seed)


def evaluate(args):
    from keras_gen.serving import evaluate_export, load_export

    served = load_export(args.export)
    results = evaluate_export(served, dataset=args.dataset, num_samples=args.num_samples, seed=args.seed,
                              progress=True, extractor=args.extractor)
    if not results:
        from keras_gen.errors import UnsupportedModelError

        raise UnsupportedModelError(f"{served.path} ({served.kind}) has no signature keras-gen can score "
                                    f"(it has {', '.join(served.signatures)}).")
    print(f"evaluation of {served.path} ({served.kind}, trained on {served.metadata.get('dataset')}):")
    for name, result in results.items():
        numbers = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        print(f"  {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in numbers.items()))
        print("    protocol: " + "; ".join(f"{k}: {v}" for k, v in result["protocol"].items() if v is not None))
    if args.json is not None:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")


def export(args):
    from keras_gen.errors import ExportExistsError, NonFiniteModelError, UntrainedModelError
    from keras_gen.export import export_model

    source = Path(args.model)
    if source.suffix != ".keras" or not source.is_file():
        raise FileNotFoundError(f"{source} is not a .keras file (expected the model.keras a recipe writes).")
    model = _load_keras_model(source)
    try:
        path = export_model(model, args.name, base_dir=args.base_dir, version=args.version,
                            overwrite=args.overwrite, image_dtype="uint8" if args.uint8 else "float32",
                            dataset=args.dataset, allow_untrained=args.allow_untrained, onnx=args.onnx,
                            allow_non_finite=args.allow_non_finite)
    except ExportExistsError as err:
        raise ExportExistsError(f"{err.path} already exists; add --overwrite or choose another --version.",
                                err.path) from None
    except UntrainedModelError:
        raise UntrainedModelError(f"{source} holds a model that was never trained (its optimizer took 0 steps); "
                                  "train it first, or add --allow-untrained to export it anyway.") from None
    except NonFiniteModelError as err:
        raise NonFiniteModelError(f"{err} (--allow-non-finite exports it anyway, for debugging.)") from None
    metadata = json.loads((path / "keras_gen.json").read_text())
    print(f"exported {metadata['kind']} {model.name!r} to {path}/ with signatures: "
          f"{', '.join(metadata['signatures'])}")


def list_command(args):
    from keras_gen.layout import list_exports

    print("models (keras-gen train <model> --help):")
    for name in recipe_names():
        print(f"  {name:24s} {_summary(name)}")
    exports = list_exports(args.base_dir)
    print(f"exports in {args.base_dir}/:" + ("" if exports else " none"))
    for name, version, metadata in exports:
        if "error" in metadata:
            print(f"  {name}/{version}: damaged: {metadata['error']}")
            continue
        print(f"  {name}/{version}: {metadata.get('kind')}, trained on {metadata.get('dataset')}, signatures "
              f"{', '.join(metadata.get('signatures', {}))}")


# ----------------------------------------------------------------------------- parser


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-gen", description=__doc__.split("\n\n")[0], epilog=EPILOG)
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    command = commands.add_parser("train", help="train a model: runs its recipe (keras-gen list shows them)",
                                  description="Runs recipes/<model>.py with the flags that follow the model name.",
                                  epilog="flags after <model> go to the recipe; "
                                         "keras-gen train <model> --help lists them")
    command.add_argument("model", help="a recipe name, e.g. vae, dcgan, pixelcnn")
    command.add_argument("recipe_args", nargs=argparse.REMAINDER, help="the recipe's flags")
    command.set_defaults(run=train)

    command = commands.add_parser("sample", help="draw images from an export or a .keras model", epilog=EPILOG)
    command.add_argument("source", help="an export (saved_models/<name>[/<version>]) or a model.keras file")
    command.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    command.add_argument("--label", type=int, default=None,
                         help="class of every image (conditional models; default: cycle through the classes)")
    command.add_argument("--seed", type=int, default=0, help="the same seed gives the same images (default: 0)")
    command.add_argument("--z", default=None, help="a .npy file of latent vectors (N, latent...) to decode instead")
    command.add_argument("--batch-size", type=int, default=None,
                         help="images per call, with a progress bar (default: all at once)")
    command.add_argument("--ncols", type=int, default=8, help="grid columns (default: 8)")
    command.add_argument("--out", default="samples.png", help="a .png grid or a .npy array (default: samples.png)")
    command.set_defaults(run=sample)

    command = commands.add_parser("evaluate", help="score an export on a dataset's test split", epilog=EPILOG)
    command.add_argument("export", help="an export: saved_models/<name>[/<version>]")
    command.add_argument("--dataset", default=None, help="default: the dataset the export was trained on")
    command.add_argument("--num-samples", type=int, default=2000,
                         help="samples and test images for FID and the other sample scores (default: 2000)")
    command.add_argument("--seed", type=int, default=0, help="default: 0")
    command.add_argument("--extractor", choices=("domain", "inception"), default="domain",
                         help="features for FID and the other sample scores: the dataset's domain classifier "
                              "(default) or ImageNet InceptionV3, when its weights are in $KERAS_HOME/models/")
    command.add_argument("--json", default=None, help="also write the results with their protocol to this file")
    command.set_defaults(run=evaluate)

    command = commands.add_parser("export", help="export a .keras model as a SavedModel for TF-Serving", epilog=EPILOG)
    command.add_argument("model", help="a model.keras file written by a recipe or model.save")
    command.add_argument("--name", required=True, help="export to <base-dir>/<name>/<version>/")
    command.add_argument("--base-dir", default="saved_models", help="default: saved_models")
    command.add_argument("--version", type=int, default=None, help="default: the next free version")
    command.add_argument("--overwrite", action="store_true", help="replace an existing version")
    command.add_argument("--uint8", action="store_true", help="images come back as uint8 0..255, not float32 [0, 1]")
    command.add_argument("--onnx", action="store_true", help="also write model.onnx (needs keras_gen[onnx])")
    command.add_argument("--dataset", default=None, help="training dataset, recorded in keras_gen.json")
    command.add_argument("--allow-untrained", action="store_true", help="export even if the model never trained")
    command.add_argument("--allow-non-finite", action="store_true",
                         help="export even if the weights hold NaN or inf (a diverged model; for debugging only)")
    command.set_defaults(run=export)

    command = commands.add_parser("list", help="list the models to train and the exports found", epilog=EPILOG)
    command.add_argument("--base-dir", default="saved_models", help="where to look for exports (default: saved_models)")
    command.set_defaults(run=list_command)
    return parser


def main(argv=None):
    """Entry point of the ``keras-gen`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from keras_gen.errors import KerasGenError

    if args.command != "list":  # list reads folders only
        quiet_tensorflow(args.verbose)
    try:
        args.run(args)
    except UsageError as err:
        parser.exit(2, f"keras-gen {args.command}: error: {err}\n")
    except KerasGenError as err:
        parser.exit(err.exit_code, f"keras-gen {args.command}: error: {err}\n")
    except (OSError, ValueError, TypeError, RuntimeError, ImportError) as err:
        parser.exit(1, f"keras-gen {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        parser.exit(130, "keras-gen: interrupted\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
