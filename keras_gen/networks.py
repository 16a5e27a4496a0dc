"""Networks shared by the adversarial families (``keras_gen.gan``, ``keras_gen.xicfg``):
the DCGAN generator and discriminator of Radford et al. 2016, and seeded initializers.
Families build their models from these; they never import each other.
"""

import keras
import numpy as np
from keras import layers

from keras_gen.layers import MinibatchStddev, SpectralConv2D, SpectralDense
from keras_gen.utils import check_input_shape, check_positive_int, is_int

DCGAN_STAGES = {28: 2, 32: 3, 64: 4}  # image size -> stride-2 layers (7x7 or 4x4 at the bottom)


def seeded_initializer(initializer, seed, **kwargs):
    """A function making a new ``initializer`` per layer, each with its own seed drawn
    from ``seed``: layers differ, and the same ``seed`` rebuilds the same weights."""
    rng = np.random.default_rng(seed)
    return lambda: initializer(seed=int(rng.integers(2**31 - 1)), **kwargs)


CONDITIONINGS = ("channel", "projection")  # how a conditional discriminator sees the label


def dcgan_networks(input_shape, latent_dim, filters, seed, batch_norm=True, num_classes=None, embedding_dim=50,
                   spectral_norm=False, conditioning="channel", auxiliary_classifier=False, extra_layers=0,
                   minibatch_stddev=False):
    """DCGAN networks (Radford et al. 2016): N(0, 0.02) weights; G projects z to a 7x7 or
    4x4 map and doubles it with stride-2 Conv2DTranspose layers (BatchNorm + ReLU, tanh
    output); D halves the image with stride-2 Conv2D layers (LeakyReLU(0.2), BatchNorm
    after all but the first when ``batch_norm``) down to one logit. BatchNorm momentum is
    0.9 (PyTorch's 0.1), so the moving statistics ``generate`` uses keep up in short runs;
    it is ``synchronized``: under a ``tf.distribute`` strategy the statistics are those of
    the global batch, so a distributed step equals the step on one device (on one device
    it costs nothing measurable).
    With ``spectral_norm`` D's convolutions and dense layers are spectrally normalized
    (``SpectralConv2D``, ``SpectralDense``; Miyato et al. 2018) and D has no batch norm.
    With ``num_classes`` both take a ``label``: G joins a label embedding to z; D sees it
    by ``conditioning``: ``"channel"``, a learned per-class image plane as an extra input
    channel, or ``"projection"`` (Miyato and Koyama 2018), the logit plus the inner
    product of D's last features with a learned per-class vector. With
    ``auxiliary_classifier`` (needs ``num_classes``) D has a second output, AC-GAN's class
    head (Odena et al. 2017): ``num_classes`` logits from the same last features.
    ``extra_layers`` adds that many stride-1 3x3 convolutions (batch norm where the stage
    has it, and the stage's activation) to G before its output layer and to D after its
    first layer, both at half the image size (the ``n_extra_layers`` of Arjovsky et al.'s
    DCGAN code, 2017). With ``minibatch_stddev`` D's last feature map gets one more
    channel, the batch's variety (``MinibatchStddev``; Karras et al. 2018), after its
    batch norm, which would otherwise normalize the batch-level signal away."""
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}.")
    if auxiliary_classifier and not num_classes:
        raise ValueError("auxiliary_classifier needs num_classes: it classifies images into the model's classes.")

    size, _, channels = input_shape
    stages = DCGAN_STAGES[size]
    init = seeded_initializer(keras.initializers.RandomNormal, seed, mean=0.0, stddev=0.02)
    # Label embeddings and spectral-norm vectors draw their seeds apart, so the kernels'
    # initial weights do not depend on them.
    extra = np.random.default_rng(None if seed is None else [seed, 1])
    extra_seed = lambda: int(extra.integers(2**31 - 1))  # noqa: E731
    embedding = lambda *a, **k: layers.Embedding(  # noqa: E731
        *a, embeddings_initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=extra_seed()), **k)
    conv, dense = layers.Conv2D, layers.Dense
    if spectral_norm:
        conv = lambda *a, **k: SpectralConv2D(*a, u_seed=extra_seed(), **k)  # noqa: E731
        dense = lambda *a, **k: SpectralDense(*a, u_seed=extra_seed(), **k)  # noqa: E731
    z = keras.Input((latent_dim,), name="z")
    image = keras.Input(input_shape, name="image")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None

    x = z
    if label is not None:
        embedded = embedding(num_classes, embedding_dim, name="generator_label_embedding")(label)
        x = layers.Concatenate(name="z_with_label")([z, embedded])
    base, width = size // 2**stages, filters * 2 ** (stages - 1)
    x = layers.Dense(base * base * width, use_bias=False, kernel_initializer=init(), name="generator_project")(x)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, synchronized=True, name="generator_project_bn")(
        layers.Reshape((base, base, width))(x)))
    for i in range(stages - 1):
        width //= 2
        x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init(),
                                   name=f"generator_deconv_{i}")(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"generator_bn_{i}")(x))
    for i in range(extra_layers):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer=init(),
                          name=f"generator_extra_conv_{i}")(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9, synchronized=True,
                                                    name=f"generator_extra_bn_{i}")(x))
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=init(),
                               name="generator_pixels")(x)
    generated = layers.Activation("tanh", dtype="float32", name="image")(x)

    y = image
    if label is not None and conditioning == "channel":
        plane = embedding(num_classes, size * size, name="discriminator_label_embedding")(label)
        y = layers.Concatenate(name="image_with_label")([image, layers.Reshape((size, size, 1))(plane)])
    for i in range(stages):
        normalized = batch_norm and not spectral_norm and i > 0
        y = conv(filters * 2**i, 4, strides=2, padding="same", use_bias=not normalized, kernel_initializer=init(),
                 name=f"discriminator_conv_{i}")(y)
        if normalized:
            y = layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"discriminator_bn_{i}")(y)
        y = layers.LeakyReLU(0.2)(y)
        for j in range(extra_layers if i == 0 else 0):
            extra_normalized = batch_norm and not spectral_norm
            y = conv(filters, 3, padding="same", use_bias=not extra_normalized, kernel_initializer=init(),
                     name=f"discriminator_extra_conv_{j}")(y)
            if extra_normalized:
                y = layers.BatchNormalization(momentum=0.9, synchronized=True, name=f"discriminator_extra_bn_{j}")(y)
            y = layers.LeakyReLU(0.2)(y)
    if minibatch_stddev:
        y = MinibatchStddev(name="discriminator_minibatch_stddev")(y)
    features = layers.Flatten()(y)
    if label is not None and conditioning == "projection":
        unconditional = dense(1, kernel_initializer=init(), name="discriminator_unconditional")(features)
        vector = embedding(num_classes, features.shape[-1], name="discriminator_label_projection")(label)
        projected = layers.Dot(axes=1, name="discriminator_projection")([features, vector])
        logit = layers.Add(dtype="float32", name="logit")([unconditional, projected])
    else:
        logit = dense(1, kernel_initializer=init(), dtype="float32", name="logit")(features)
    if label is None:
        return keras.Model(z, generated, name="generator"), keras.Model(image, logit, name="discriminator")
    if auxiliary_classifier:  # drawn after the other layers' seeds, so their weights do not change
        classes = dense(num_classes, kernel_initializer=init(), dtype="float32", name="class_logits")(features)
        logit = [logit, classes]
    return (keras.Model([z, label], generated, name="generator"),
            keras.Model([image, label], logit, name="discriminator"))


def check_dcgan_arguments(input_shape, latent_dim, filters, extra_layers=0):
    shape = check_input_shape(input_shape)
    check_positive_int("latent_dim", latent_dim)
    check_positive_int("filters", filters)
    if not is_int(extra_layers) or extra_layers < 0:
        raise ValueError(f"extra_layers must be an int >= 0, got {extra_layers!r}.")
    if shape[0] != shape[1] or shape[0] not in DCGAN_STAGES:
        raise ValueError(f"DCGAN networks need square images of size {sorted(DCGAN_STAGES)}, "
                         f"got input_shape {shape}.")
    return shape
