"""SavedModel export in the TF-Serving layout: ``saved_models/<name>/<version>/``.

A client needs only TensorFlow (or a TF-Serving server) to use an export: signatures
have named inputs, dict outputs and a dynamic batch, and images come back in [0, 1]
(float32, or uint8 in 0..255 with ``image_dtype="uint8"``). A ``keras_gen.json`` beside
the model says what it is: kind, signatures with their input and output specs, value
range, training dataset, keras_gen version.

``export_model`` takes any trained keras_gen model:

| model | signatures |
| --- | --- |
| ``GAN``, ``ConditionalGAN`` | ``serving_default`` (z [, label] -> image), ``sample`` (seed, num or label -> image) |
| ``VAE``, ``ConditionalVAE`` | the two above, ``decode`` (= ``serving_default``), ``encode`` (image [, label] -> z_mean, z_log_var), ``reconstruct`` (image [, label] -> image, decoded from z_mean) |
| autoencoders | ``serving_default`` and ``decode`` (z, the code, -> image), ``encode`` (image -> z), ``reconstruct`` (image -> image) |
| denoising autoencoder | as autoencoders, with ``denoise`` (noisy image -> clean image) in place of ``reconstruct`` |
| ``XICFG`` | ``serving_default`` (z -> image), ``sample`` (seed, num -> image): G~ and the last episode's T functional steps |
| ``PixelCNN`` | ``sample`` (= ``serving_default``), ``nll`` (image [, label] -> nll, bits_per_dim) |

Example:
    >>> path = export_model(vae, "vae")                      # saved_models/vae/1/
    >>> served = tf.saved_model.load(str(path))
    >>> served.signatures["sample"](seed=tf.constant(0, tf.int64), num=tf.constant(16))["image"]
"""  # noqa: E501 (the markdown table's rows cannot be wrapped)

import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from keras_gen.autoregressive import AutoregressiveModel
from keras_gen.errors import ExportExistsError, UnsupportedModelError, UntrainedModelError
from keras_gen.gan import GAN
from keras_gen.layers import ImageCorruption
from keras_gen.layout import METADATA_FILE, next_version
from keras_gen.utils import assert_labels_in_range, check_finite_weights, check_num_classes, is_int
from keras_gen.vae import VAE
from keras_gen.version import __version__
from keras_gen.xicfg import XICFG

ONNX_FILE = "model.onnx"
IMAGE_DTYPES = ("float32", "uint8")


def _exists_error(path):
    return ExportExistsError(f"{path} already exists; pass overwrite=True or another version to replace it.", path)


def _check_target(name, base_dir, version, overwrite):
    """Checks the export's name and version before any tracing, and refuses an existing
    version early (the atomic claim at write time is what makes this safe)."""
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise ValueError(f"name must be a non-empty folder name without '/', got {name!r}.")
    if version is not None and (not is_int(version) or version < 1):
        raise ValueError(f"version must be an integer >= 1 (TF-Serving's layout), got {version!r}.")
    if version is not None and not overwrite and (Path(base_dir) / name / str(version)).exists():
        raise _exists_error(Path(base_dir) / name / str(version))
    return {"name": name, "base_dir": base_dir, "version": version, "overwrite": overwrite}


def _claim_version(model_dir, version):
    """Creates the version folder ``model_dir/<version>`` exclusively (``mkdir`` fails when it
    exists), so that concurrent exports never take the same version: with ``version=None``
    the next free one, else exactly ``version`` or an ``ExportExistsError``."""
    while True:
        path = model_dir / str(next_version(model_dir) if version is None else version)
        try:
            path.mkdir()
            return path
        except FileExistsError:
            if version is not None:
                raise _exists_error(path) from None


def _install(new, model_dir, version, overwrite, scratch):
    """Moves the complete export ``new`` into place and returns its folder.

    A new version takes its exclusively claimed (empty) folder with one rename. An
    overwrite swaps complete folders: the old version is renamed aside into ``scratch``, the
    new one renamed in (on failure the old one is renamed back), and only then is the old
    one deleted; so at every step one complete export is in place.
    """
    existing = None if version is None else model_dir / str(version)
    if existing is None or not overwrite or not existing.exists():
        path = _claim_version(model_dir, version)
        try:
            os.rename(new, path)  # replaces the empty claimed folder
        except OSError:
            path.rmdir()
            raise
        return path
    os.rename(existing, scratch / "replaced")
    try:
        os.rename(new, existing)
    except OSError:
        os.rename(scratch / "replaced", existing)
        raise
    return existing


def _check_image_dtype(image_dtype):
    if image_dtype not in IMAGE_DTYPES:
        raise ValueError(f"image_dtype must be one of {IMAGE_DTYPES}, got {image_dtype!r}.")
    return image_dtype


def _spec_json(spec):
    return {"shape": [-1 if d is None else int(d) for d in spec.shape], "dtype": spec.dtype.name}


class _Signatures:
    """The endpoints of one export, and the input/output specs ``keras_gen.json`` lists."""

    def __init__(self, networks, image_dtype="float32", value_range=(0.0, 1.0)):
        self.archive = keras.export.ExportArchive()
        for network in networks:
            self.archive.track(network)
        self.image_dtype = _check_image_dtype(image_dtype)
        self.low, self.high = (float(v) for v in value_range)
        if not self.high > self.low:
            raise ValueError(f"value_range must be (low, high) with high > low, got {value_range!r}.")
        self.specs = {}

    def add(self, name, fn, **inputs):
        """Adds endpoint ``name``: ``fn(**inputs)`` -> dict, inputs given as TensorSpecs."""
        specs = [tf.TensorSpec(spec.shape, spec.dtype, name=key) for key, spec in inputs.items()]
        function = tf.function(lambda *args: fn(**dict(zip(inputs, args))), input_signature=specs)
        outputs = function.get_concrete_function().structured_outputs
        self.archive.add_endpoint(name, function)
        self.specs[name] = {
            "inputs": {key: _spec_json(spec) for key, spec in zip(inputs, specs)},
            "outputs": {key: _spec_json(tensor) for key, tensor in outputs.items()},
        }

    def image(self, images):
        """Network output (in ``value_range``) -> ``{"image": ...}`` in [0, 1] or uint8."""
        unit = tf.clip_by_value((tf.cast(images, tf.float32) - self.low) / (self.high - self.low), 0.0, 1.0)
        if self.image_dtype == "uint8":
            unit = tf.cast(tf.round(unit * 255.0), tf.uint8)
        return {"image": unit}

    def write(self, target, metadata):
        """Writes the export into a hidden scratch folder beside the versions, then moves it
        into place (``_install``): a failed or killed export never leaves a version folder
        that looks complete, and a refused or failed one leaves the old version intact.

        Args:
            target: ``_check_target``'s dict (name, base_dir, version, overwrite).
            metadata: what ``keras_gen.json`` says besides the signatures.

        Returns:
            The version folder's ``Path``.
        """
        metadata = {
            "keras_gen_version": __version__, **metadata, "image_dtype": self.image_dtype,
            "output_range": [0, 255] if self.image_dtype == "uint8" else [0.0, 1.0],
            "signatures": self.specs,
        }
        model_dir = Path(target["base_dir"]) / target["name"]
        model_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=model_dir))
        try:
            self.archive.write_out(str(scratch / "model"), verbose=False)
            (scratch / "model" / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
            path = _install(scratch / "model", model_dir, target["version"], target["overwrite"], scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if scratch.exists():
            warnings.warn(f"exported to {path}, but the files it replaced could not all be deleted; they are in "
                          f"{scratch}.", stacklevel=3)
        return path


def _checked_shape(tensor, what):
    """In-graph: refuses an input whose dimensions after the batch are not the signature's
    (a SavedModel signature does not check them itself)."""
    expected = tensor.shape[1:].as_list()
    message = f"{what} must have shape (N, {', '.join(map(str, expected))})"
    with tf.control_dependencies([tf.debugging.assert_equal(tf.shape(tensor)[1:], expected, message=message)]):
        return tf.identity(tensor)


def _checked_images(image):
    """Refuses input images of the wrong shape or outside [0, 1] (and NaN) with a clear message."""
    image = _checked_shape(image, "image")
    message = "image values must lie in [0, 1] (float32)"
    with tf.control_dependencies([
        tf.debugging.assert_greater_equal(image, 0.0, message=message),
        tf.debugging.assert_less_equal(image, 1.0, message=message),
    ]):
        return tf.identity(image)


def _checked_z(z):
    """Refuses latent vectors of the wrong shape, NaN or inf."""
    return tf.debugging.assert_all_finite(_checked_shape(z, "z"), "z must be finite (no NaN or inf)")


def _checked_num(num):
    """Refuses a sample count below 1."""
    with tf.control_dependencies([tf.debugging.assert_positive(num, message="num must be >= 1")]):
        return tf.identity(num)


def _check_num_classes(conditional, num_classes):
    if not conditional:
        return None
    try:
        return check_num_classes(num_classes)
    except ValueError:
        raise ValueError(f"a conditional generator needs num_classes, an integer >= 2, got {num_classes!r}.") from None


def _z_spec(network):
    return tf.TensorSpec((None,) + tuple(network.inputs[0].shape[1:]), tf.float32)


LABEL_SPEC = tf.TensorSpec((None,), tf.int32)
SEED_SPEC = tf.TensorSpec((), tf.int64)
NUM_SPEC = tf.TensorSpec((), tf.int32)


def _stateless_z(seed, num, latent_shape):
    """``num`` latent vectors z ~ N(0, I) of ``latent_shape`` drawn statelessly with ``seed``:
    the same seed gives the same z in every export and every process."""
    return tf.random.stateless_normal(tf.concat([[num], latent_shape], 0), seed=tf.stack([seed, 0]))


def _add_generator(signatures, generator, num_classes, decode_name=None):
    """``serving_default`` and ``sample`` of a network z [, label] -> image (and the same
    function under ``decode_name``). Returns the latent shape."""
    latent_shape = tuple(generator.inputs[0].shape[1:])
    z_spec = _z_spec(generator)
    names = ["serving_default"] + ([decode_name] if decode_name else [])

    def draw(seed, num):
        return _stateless_z(seed, num, latent_shape)

    if num_classes is None:
        for name in names:
            signatures.add(name, lambda z: signatures.image(generator(_checked_z(z), training=False)), z=z_spec)
        signatures.add("sample", lambda seed, num: signatures.image(generator(draw(seed, _checked_num(num)),
                                                                               training=False)),
                       seed=SEED_SPEC, num=NUM_SPEC)
    else:
        def generate(z, label):
            return signatures.image(generator([z, assert_labels_in_range(label, num_classes)], training=False))

        for name in names:
            signatures.add(name, lambda z, label: generate(_checked_z(z), label), z=z_spec, label=LABEL_SPEC)
        signatures.add("sample", lambda seed, label: generate(draw(seed, tf.shape(label)[0]), label),
                       seed=SEED_SPEC, label=LABEL_SPEC)
    return latent_shape


def _refuse_non_finite(network, allow_non_finite):
    """``NonFiniteModelError`` for NaN/inf weights unless ``allow_non_finite`` (debugging)."""
    if not allow_non_finite:
        check_finite_weights(network, what="export it")


def _trained_steps(model):
    """Optimizer steps the model has taken (the largest over its optimizers; 0 for an
    optimizer never built), or None without an optimizer (e.g. loaded with ``compile=False``)."""
    optimizers = [getattr(model, name, None) for name in ("optimizer", "d_optimizer", "g_optimizer",
                                                          "approximator_optimizer")]
    steps = [int(optimizer.iterations.numpy()) if optimizer.built else 0
             for optimizer in optimizers if isinstance(optimizer, keras.optimizers.Optimizer)]
    return max(steps) if steps else None


def _autoencoder_parts(model):
    """``(encoder, decoder)`` of an autoencoder from ``keras_gen.autoencoders``, else None."""
    try:
        encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    except ValueError:
        return None
    return (encoder, decoder) if isinstance(encoder, keras.Model) and isinstance(decoder, keras.Model) else None


# Model class -> (its exporter, its ONNX network). An exporter writes one version folder:
# ``exporter(model, name, base_dir, version, overwrite, image_dtype, dataset, allow_non_finite) -> Path``;
# the ONNX function returns ``(network, value_range)`` of the ``serving_default`` network,
# or None when the family's signatures cannot be converted. A new family registers here.
EXPORTERS = {}


def register_exporter(model_class, onnx_network=None):
    """Decorator registering an exporter for ``model_class`` (and its subclasses)."""
    def decorate(exporter):
        EXPORTERS[model_class] = (exporter, onnx_network)
        return exporter
    return decorate


def _exporter_for(model):
    for model_class in type(model).__mro__:
        if model_class in EXPORTERS:
            return EXPORTERS[model_class]
    if _autoencoder_parts(model) is not None:
        return _export_autoencoder, lambda m: (_autoencoder_parts(m)[1], (0.0, 1.0))
    families = ", ".join(sorted(c.__name__ for c in EXPORTERS))
    raise UnsupportedModelError(f"cannot export {type(model).__name__} {model.name!r}: expected a keras_gen model "
                                f"({families}) or an autoencoder holding 'encoder' and 'decoder' models.")


def export_model(model, name, base_dir="saved_models", version=None, overwrite=False, image_dtype="float32",
                 dataset=None, allow_untrained=False, onnx=False, allow_non_finite=False):
    """Exports a trained keras_gen model as a SavedModel for TF-Serving.

    The signatures depend on the model (see the module's table); every image output is
    ``{"image": (N, H, W, C)}`` in [0, 1] (float32) or 0..255 (uint8), whatever range
    the network was trained in (a tanh GAN's [-1, 1] is rescaled). Image inputs
    (``encode``, ``reconstruct``, ``denoise``, ``nll``) are float32 in [0, 1]; other
    values, wrong shapes, and labels outside ``[0, num_classes)`` are refused.

    Args:
        model: a ``GAN``/``ConditionalGAN`` (its EMA generator when it has one),
            ``VAE``/``ConditionalVAE``, ``XICFG``, ``PixelCNN``, or an autoencoder from
            ``keras_gen.autoencoders`` (a Functional model holding ``encoder`` and
            ``decoder``), built and trained.
        name: the model's folder under ``base_dir``.
        base_dir: the TF-Serving model base folder (default ``saved_models``).
        version: integer version; default: the next free one.
        overwrite: replace an existing version folder instead of refusing.
        image_dtype: ``"float32"`` (default) or ``"uint8"`` image outputs.
        dataset: training dataset's name, recorded in ``keras_gen.json``.
        allow_untrained: export a model whose optimizer never took a step (refused
            by default: that is almost always a mistake).
        allow_non_finite: export a model whose weights hold NaN or inf (refused by
            default with ``NonFiniteModelError`` naming the first bad variable: its
            training diverged); for debugging only.
        onnx: also write ``model.onnx`` (the ``serving_default`` network) beside the
            SavedModel; needs the ``onnx`` extra (``pip install keras_gen[onnx]``).

    Returns:
        The version folder's ``Path``.

    Example:
        >>> path = export_model(gan, "dcgan", dataset="mnist")   # saved_models/dcgan/1/
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras_gen model (a keras.Model), got {type(model).__name__}.")
    if not model.built:
        raise ValueError(f"model {model.name!r} was never built: build it (call it on data or fit it) before export.")
    steps = _trained_steps(model)
    if steps == 0 and not allow_untrained:
        raise UntrainedModelError(f"model {model.name!r} was never trained (its optimizer took 0 steps); fit it "
                                  "first, or pass allow_untrained=True to export it anyway.")
    _check_image_dtype(image_dtype)
    common = dict(name=name, base_dir=base_dir, version=version, overwrite=overwrite, image_dtype=image_dtype,
                  dataset=dataset, allow_non_finite=allow_non_finite)
    exporter, onnx_network = _exporter_for(model)
    if onnx and onnx_network is None:
        raise ValueError(f"onnx=True is not supported for {type(model).__name__}: its sampler is a loop "
                         "over pixels, which keras' ONNX export does not convert.")
    path = exporter(model, **common)
    if onnx:
        network, value_range = onnx_network(model)
        export_onnx(network, path / ONNX_FILE, value_range=value_range)
    return path


def export_generator(generator, name, base_dir="saved_models", version=None, overwrite=False, value_range=(0.0, 1.0),
                     num_classes=None, kind="generator", dataset=None, image_dtype="float32", allow_non_finite=False):
    """Exports a generator network (z -> image, or [z, label] -> image) as a SavedModel.

    ``export_model`` calls this for GANs; use it directly for a generator of your own.

    Signatures, both returning ``{"image": (N, H, W, C)}`` in [0, 1] (or uint8):
        ``serving_default``: ``z`` (N, latent_dim) float32 [and ``label`` (N,) int32].
        ``sample``: ``seed`` int64 scalar and ``num`` int32 scalar [or ``label`` (N,)
        int32 for a conditional generator]; z ~ N(0, I) is drawn with stateless random
        ops, so the same seed gives the same images.

    Args:
        generator: a built Keras model whose first input is z (and second, if any, the label).
        name, base_dir, version, overwrite, dataset, image_dtype: see ``export_model``.
        value_range: ``(low, high)`` range of the generator's output; rescaled to [0, 1].
        num_classes: for a conditional generator: labels outside ``[0, num_classes)``
            are refused by the signatures with a clear error.
        kind: recorded in ``keras_gen.json``.
        allow_non_finite: see ``export_model``.

    Returns:
        The version folder's ``Path``.
    """
    if not isinstance(generator, keras.Model) or not generator.built:
        raise ValueError(f"generator must be a built keras.Model, got {type(generator).__name__}.")
    _refuse_non_finite(generator, allow_non_finite)
    signatures = _Signatures([generator], image_dtype, value_range)
    num_classes = _check_num_classes(len(generator.inputs) > 1, num_classes)
    target = _check_target(name, base_dir, version, overwrite)
    latent_shape = _add_generator(signatures, generator, num_classes)
    return signatures.write(target, {
        "kind": kind, "latent_shape": list(latent_shape), "conditional": num_classes is not None,
        "num_classes": num_classes, "image_shape": list(generator.outputs[0].shape[1:]),
        "trained_range": [signatures.low, signatures.high], "dataset": dataset,
    })


@register_exporter(GAN, onnx_network=lambda gan: (gan.sampler, gan.value_range))
def _export_gan(gan, allow_non_finite, **common):
    """The sampler (the EMA generator when there is one), see ``export_generator``; in
    float32 when it was built under a mixed policy, so any serving machine runs it (a
    bfloat16 graph is slow where the CPU lacks bfloat16, and TFLite cannot convert it)."""
    _refuse_non_finite(gan, allow_non_finite)  # the whole GAN: a diverged discriminator counts too
    return export_generator(_float32_network(gan.sampler), value_range=gan.value_range, num_classes=gan.num_classes,
                            kind=type(gan).__name__, allow_non_finite=True, **common)


@register_exporter(XICFG)
def _export_xicfg(model, name, base_dir, version, overwrite, image_dtype, dataset, allow_non_finite):
    """xICFG's generator as the method defines it (``XICFG.generator_images``: the kept
    approximator followed by the last episode's T steps x + eta grad D_t(x)), with the
    signatures of ``export_generator``. No ONNX: the steps differentiate D inside the graph."""
    _refuse_non_finite(model, allow_non_finite)
    signatures = _Signatures([model], image_dtype, model.value_range)
    target = _check_target(name, base_dir, version, overwrite)
    latent_shape = (model.latent_dim,)

    def draw(seed, num):
        return _stateless_z(seed, num, latent_shape)

    signatures.add("serving_default", lambda z: signatures.image(model.generator_images(_checked_z(z))),
                   z=tf.TensorSpec((None, model.latent_dim), tf.float32))
    signatures.add("sample", lambda seed, num: signatures.image(model.generator_images(draw(seed, _checked_num(num)))),
                   seed=SEED_SPEC, num=NUM_SPEC)
    return signatures.write(target, {
        "kind": "XICFG", "latent_shape": list(latent_shape), "conditional": False, "num_classes": None,
        "image_shape": list(model.image_shape), "trained_range": [signatures.low, signatures.high],
        "dataset": dataset, "stages": model.stages, "episodes": int(model.episode.numpy()),
    })


@register_exporter(VAE, onnx_network=lambda vae: (vae.decoder, (0.0, 1.0)))
def _export_vae(vae, name, base_dir, version, overwrite, image_dtype, dataset, allow_non_finite):
    _refuse_non_finite(vae, allow_non_finite)
    signatures = _Signatures([vae.encoder, vae.decoder], image_dtype)
    num_classes = vae.num_classes
    target = _check_target(name, base_dir, version, overwrite)
    latent_shape = _add_generator(signatures, vae.decoder, num_classes, decode_name="decode")
    image_spec = tf.TensorSpec((None,) + vae.image_shape, tf.float32)

    def encode(image, label=None):
        image = _checked_images(image)
        inputs = image if label is None else [image, assert_labels_in_range(label, num_classes)]
        z_mean, z_log_var, _ = vae.encoder(inputs, training=False)
        return {"z_mean": z_mean, "z_log_var": z_log_var}

    def reconstruct(image, label=None):
        z_mean = encode(image, label)["z_mean"]
        return signatures.image(vae.decoder(z_mean if label is None else [z_mean, label], training=False))

    labelled = {} if num_classes is None else {"label": LABEL_SPEC}
    signatures.add("encode", encode, image=image_spec, **labelled)
    signatures.add("reconstruct", reconstruct, image=image_spec, **labelled)
    return signatures.write(target, {
        "kind": type(vae).__name__, "latent_shape": list(latent_shape), "conditional": num_classes is not None,
        "num_classes": num_classes, "image_shape": list(vae.image_shape), "likelihood": vae.likelihood,
        "trained_range": [0.0, 1.0], "dataset": dataset,
    })


def _export_autoencoder(model, name, base_dir, version, overwrite, image_dtype, dataset, allow_non_finite):
    _refuse_non_finite(model, allow_non_finite)
    encoder, decoder = _autoencoder_parts(model)
    corruption = [layer for layer in model.layers if isinstance(layer, ImageCorruption)]
    signatures = _Signatures([model], image_dtype)
    target = _check_target(name, base_dir, version, overwrite)
    image_spec = tf.TensorSpec((None,) + tuple(model.inputs[0].shape[1:]), tf.float32)
    code_spec = _z_spec(decoder)
    for endpoint in ("serving_default", "decode"):
        signatures.add(endpoint, lambda z: signatures.image(decoder(_checked_z(z), training=False)), z=code_spec)
    signatures.add("encode", lambda image: {"z": encoder(_checked_images(image), training=False)}, image=image_spec)
    # The model itself, in inference mode: its corruption layer (if any) is inactive.
    signatures.add("denoise" if corruption else "reconstruct",
                   lambda image: signatures.image(model(_checked_images(image), training=False)), image=image_spec)
    metadata = {
        "kind": "denoising autoencoder" if corruption else "autoencoder", "model_name": model.name,
        "latent_shape": list(code_spec.shape[1:]), "conditional": False, "num_classes": None,
        "image_shape": list(image_spec.shape[1:]), "trained_range": [0.0, 1.0], "dataset": dataset,
    }
    if corruption:
        metadata["noise"] = {"kind": corruption[0].kind, "amount": corruption[0].amount}
    return signatures.write(target, metadata)


@register_exporter(AutoregressiveModel)
def export_pixelcnn(model, name, base_dir="saved_models", version=None, overwrite=False, dataset=None,
                    image_dtype="float32", allow_non_finite=False):
    """Exports a PixelCNN's (or any ``AutoregressiveModel``'s) compiled sampler and exact
    likelihood as a SavedModel.

    Signatures:
        ``sample`` (also ``serving_default``): ``seed`` int64 scalar and ``num`` int32
        scalar [or ``label`` (N,) int32 for a conditional model] -> ``{"image": (N, H,
        W, C)}`` in [0, 1] (or uint8). The same stateless draws as ``model.sample`` /
        ``model.generate``: the same seed gives the same images, here and in Keras.
        ``nll``: ``image`` (N, H, W, C) float32 on the level grid [and ``label``] ->
        ``{"nll": (N,) nats per image, "bits_per_dim": (N,)}``, exact.
        Labels outside ``[0, num_classes)`` and images off the level grid are refused.

    Args:
        model: a ``keras_gen.pixelcnn.PixelCNN`` (or another ``AutoregressiveModel``).
        name, base_dir, version, overwrite, dataset, image_dtype, allow_non_finite: see
            ``export_model``.

    Returns:
        The version folder's ``Path``.
    """
    if not isinstance(model, AutoregressiveModel):
        raise UnsupportedModelError(f"model must be a keras_gen PixelCNN (an autoregressive model), got "
                                    f"{type(model).__name__}.")
    _refuse_non_finite(model, allow_non_finite)
    signatures = _Signatures([model.network], image_dtype)
    target = _check_target(name, base_dir, version, overwrite)
    image_spec = tf.TensorSpec((None,) + tuple(model.image_shape), tf.float32)

    def scored(image, label=None):
        nll = model.image_nll(image, label, training=False)
        return {"nll": nll, "bits_per_dim": nll * model.bits_per_nat}

    if model.conditional:
        sample = (lambda seed, label: signatures.image(model.sample_graph(seed, labels=label)),
                  {"seed": SEED_SPEC, "label": LABEL_SPEC})
        signatures.add("nll", scored, image=image_spec, label=LABEL_SPEC)
    else:
        sample = (lambda seed, num: signatures.image(model.sample_graph(seed, num=_checked_num(num))),
                  {"seed": SEED_SPEC, "num": NUM_SPEC})
        signatures.add("nll", scored, image=image_spec)
    for endpoint in ("sample", "serving_default"):
        signatures.add(endpoint, sample[0], **sample[1])
    return signatures.write(target, {
        "kind": type(model).__name__, "levels": model.levels, "conditional": model.conditional, "sample_batch": 100,
        "num_classes": model.num_classes, "image_shape": list(model.image_shape), "trained_range": [0.0, 1.0],
        "dataset": dataset,
    })


def _float32_network(network):
    """``network``, or a float32 copy with its weights when some layer computes in another
    dtype (a mixed policy): exports compute in float32 (tf2onnx writes bfloat16 MatMuls that
    onnxruntime cannot load, TFLite converts no bfloat16 MatMul)."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in network.layers):
        return network
    copy = keras.models.clone_model(network, clone_function=lambda layer: layer.__class__.from_config(
        {**layer.get_config(), "dtype": "float32"}))
    copy.set_weights(network.get_weights())
    return copy


def export_onnx(network, path, value_range=(0.0, 1.0), overwrite=False):
    """Writes a generator or decoder network (z [, label] -> image) as an ONNX file whose
    output is rescaled from ``value_range`` to [0, 1], like the SavedModel's
    ``serving_default``. A network built under a mixed policy (``build_dcgan``'s bfloat16)
    is written in float32, with the same weights. Needs ``tf2onnx`` (``pip install keras_gen[onnx]``); check it
    with ``onnxruntime.InferenceSession(path)``.

    Args:
        network: a built Functional model; its inputs keep their names (``z``, ``label``).
        path: the ``.onnx`` file to write.
        value_range: ``(low, high)`` range of the network's output.
        overwrite: replace an existing file instead of refusing.

    Returns:
        ``path`` as a ``Path``.
    """
    if importlib.util.find_spec("tf2onnx") is None:  # keras' ONNX export needs it
        raise ImportError("ONNX export needs tf2onnx: pip install 'keras_gen[onnx]'")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")
    low, high = (float(v) for v in value_range)
    network = _float32_network(network)
    inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name.split(":")[0]) for t in network.inputs]
    images = network(inputs if len(inputs) > 1 else inputs[0])
    unit = keras.ops.clip((keras.ops.cast(images, "float32") - low) / (high - low), 0.0, 1.0)
    wrapper = keras.Model(inputs, unit, name=f"{network.name}_unit_range")
    zeros = [keras.ops.zeros((1,) + tuple(t.shape[1:]), dtype=t.dtype) for t in network.inputs]
    wrapper(zeros if len(zeros) > 1 else zeros[0])  # keras' ONNX export needs a model that was called once
    wrapper.export(str(path), format="onnx", verbose=False)
    return path
