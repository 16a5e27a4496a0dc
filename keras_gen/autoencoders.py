"""Autoencoder builders: dense, convolutional, 2-D latent and denoising.

Each builder returns ``(autoencoder, encoder, decoder)``: three Functional models that
share weights. The autoencoder is compiled (binary cross-entropy by default, for images
in [0, 1]) and trains with ``autoencoder.fit(x, x)``; see
``keras_gen.datasets.as_autoencoder_pairs``. The encoder maps images to codes and can be
reused as a feature extractor; the decoder maps codes back to images.

Example:
    >>> autoencoder, encoder, decoder = build_conv_autoencoder()
    >>> autoencoder.fit(as_autoencoder_pairs(load("mnist")), epochs=5)
    >>> codes = encoder.predict(images)            # (N, 7, 7, 32)
"""

import math

import keras
from keras import layers

from keras_gen.distribute import FunctionalModel
from keras_gen.layers import ImageCorruption
from keras_gen.losses import reconstruction_loss
from keras_gen.utils import check_input_shape, check_num_classes, check_positive_int

ARCHITECTURES = ("dense", "conv")


def _output(x, activation):
    # A float32 output keeps the loss stable under a mixed-precision policy.
    return layers.Activation(activation, dtype="float32", name="reconstruction")(x)


def _assemble(encoder, decoder, input_shape, name, loss, optimizer, corruption=None):
    inputs = keras.Input(input_shape, name="image")
    x = inputs if corruption is None else corruption(inputs)
    autoencoder = FunctionalModel(inputs, decoder(encoder(x)), name=name)
    autoencoder.compile(optimizer=optimizer, loss=reconstruction_loss(loss))
    return autoencoder, encoder, decoder


def build_dense_autoencoder(
    input_shape=(28, 28, 1),
    latent_dim=32,
    hidden_units=(),
    latent_activation="relu",
    output_activation="sigmoid",
    loss="binary_crossentropy",
    optimizer="adam",
    name="dense_autoencoder",
):
    """Fully connected autoencoder: 784 -> ``latent_dim`` (ReLU) -> 784 (sigmoid).

    Args:
        input_shape: ``(H, W, C)`` of the images; they are flattened inside.
        latent_dim: size of the code (32: the 784-32-784 network of the Keras blog's
            autoencoder post).
        hidden_units: sizes of hidden layers between image and code, mirrored in the
            decoder (empty: one Dense layer each way).
        latent_activation: activation of the code layer.
        output_activation: ``"sigmoid"`` for images in [0, 1].
        loss: ``"binary_crossentropy"`` (default) or ``"mse"``.
        optimizer: optimizer name or instance for ``compile``.

    Returns:
        ``(autoencoder, encoder, decoder)``.
    """
    input_shape = check_input_shape(input_shape)
    check_positive_int("latent_dim", latent_dim)
    hidden_units = tuple(hidden_units)
    for units in hidden_units:
        check_positive_int("hidden_units entry", units)
    pixels = math.prod(input_shape)

    image = keras.Input(input_shape, name="image")
    x = layers.Flatten()(image)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", name=f"encoder_dense_{i}")(x)
    code = layers.Dense(latent_dim, activation=latent_activation, name="code")(x)
    encoder = keras.Model(image, code, name="encoder")

    code_in = keras.Input((latent_dim,), name="code")
    x = code_in
    for i, units in enumerate(reversed(hidden_units)):
        x = layers.Dense(units, activation="relu", name=f"decoder_dense_{i}")(x)
    x = layers.Dense(pixels, name="decoder_pixels")(x)
    x = layers.Reshape(input_shape)(x)
    decoder = keras.Model(code_in, _output(x, output_activation), name="decoder")
    return _assemble(encoder, decoder, input_shape, name, loss, optimizer)


def build_latent2d_autoencoder(
    input_shape=(28, 28, 1),
    hidden_units=512,
    loss="binary_crossentropy",
    optimizer="adam",
    name="latent2d_autoencoder",
):
    """Autoencoder with a 2-D code for latent-space plots: 784 -> 512 -> 2 -> 512 -> 784.

    The code layer is linear so the plane is used freely.

    Returns:
        ``(autoencoder, encoder, decoder)``; ``encoder`` outputs ``(N, 2)``.
    """
    check_positive_int("hidden_units", hidden_units)
    return build_dense_autoencoder(
        input_shape,
        latent_dim=2,
        hidden_units=(hidden_units,),
        latent_activation="linear",
        loss=loss,
        optimizer=optimizer,
        name=name,
    )


def build_conv_autoencoder(
    input_shape=(28, 28, 1),
    filters=(32, 32),
    kernel_size=3,
    output_activation="sigmoid",
    loss="binary_crossentropy",
    optimizer="adam",
    name="conv_autoencoder",
):
    """Convolutional autoencoder: Conv2D + MaxPooling per entry of ``filters`` down to a
    ``(H / 2**k, W / 2**k, filters[-1])`` code ((7, 7, 32) for MNIST), then Conv2D +
    UpSampling2D back and a sigmoid Conv2D with the input's channel count.

    Args:
        input_shape: ``(H, W, C)``; H and W must be divisible by ``2 ** len(filters)``.
        filters: filters per down-sampling stage, mirrored in the decoder.
        kernel_size: convolution kernel size.
        output_activation, loss, optimizer: as in ``build_dense_autoencoder``.

    Returns:
        ``(autoencoder, encoder, decoder)``.
    """
    input_shape = check_input_shape(input_shape)
    filters = tuple(filters)
    if not filters:
        raise ValueError("filters must name at least one stage, got ().")
    for f in filters:
        check_positive_int("filters entry", f)
    factor = 2 ** len(filters)
    height, width, channels = input_shape
    if height % factor or width % factor:
        raise ValueError(
            f"input_shape {input_shape}: height and width must be divisible by {factor} "
            f"for {len(filters)} pooling stages; pad or resize the images, or use fewer filters."
        )

    image = keras.Input(input_shape, name="image")
    x = image
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, kernel_size, activation="relu", padding="same", name=f"encoder_conv_{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"encoder_pool_{i}")(x)
    encoder = keras.Model(image, x, name="encoder")

    code_in = keras.Input(encoder.output.shape[1:], name="code")
    x = code_in
    for i, f in enumerate(reversed(filters)):
        x = layers.Conv2D(f, kernel_size, activation="relu", padding="same", name=f"decoder_conv_{i}")(x)
        x = layers.UpSampling2D(2, name=f"decoder_upsample_{i}")(x)
    x = layers.Conv2D(channels, kernel_size, padding="same", name="decoder_pixels")(x)
    decoder = keras.Model(code_in, _output(x, output_activation), name="decoder")
    return _assemble(encoder, decoder, input_shape, name, loss, optimizer)


def build_denoising_autoencoder(
    input_shape=(28, 28, 1),
    architecture="conv",
    noise="gaussian",
    noise_amount=0.5,
    seed=None,
    loss="binary_crossentropy",
    optimizer="adam",
    name="denoising_autoencoder",
    **architecture_kwargs,
):
    """Denoising autoencoder: an ``ImageCorruption`` layer in front of a dense or conv
    autoencoder. Inputs are corrupted only while training and the target stays clean,
    so the model learns to remove the noise; at inference it denoises its input.

    Args:
        input_shape: ``(H, W, C)`` of images in [0, 1].
        architecture: ``"conv"`` (default) or ``"dense"``.
        noise: ``"gaussian"``, ``"salt_and_pepper"`` or ``"mask"``.
        noise_amount: gaussian stddev, or the fraction of corrupted values.
        seed: seed of the corruption.
        **architecture_kwargs: passed to ``build_conv_autoencoder`` or
            ``build_dense_autoencoder`` (``filters``, ``latent_dim``, ...).

    Returns:
        ``(autoencoder, encoder, decoder)``; only ``autoencoder`` holds the noise layer.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}.")
    corruption = ImageCorruption(noise, noise_amount, seed=seed, name="corruption")
    builder = build_conv_autoencoder if architecture == "conv" else build_dense_autoencoder
    _, encoder, decoder = builder(input_shape, **architecture_kwargs)
    return _assemble(encoder, decoder, tuple(input_shape), name, loss, optimizer, corruption)


def build_encoder_classifier(encoder, num_classes, freeze_encoder=True, optimizer="adam", name="encoder_classifier"):
    """Reuses a (trained) encoder as a feature extractor under a softmax classifier.

    Args:
        encoder: an encoder returned by one of the builders.
        num_classes: number of classes (>= 2).
        freeze_encoder: keep the encoder's weights fixed (a linear probe of its codes);
            False fine-tunes them too. The flag is set on ``encoder.trainable``.
        optimizer: optimizer for ``compile``.

    Returns:
        A compiled classifier taking images and returning class probabilities, trained
        with integer labels (sparse categorical cross-entropy, accuracy metric).
    """
    check_num_classes(num_classes)
    encoder.trainable = not freeze_encoder
    image = keras.Input(encoder.input.shape[1:], name="image")
    x = layers.Flatten()(encoder(image))
    probabilities = layers.Dense(num_classes, activation="softmax", dtype="float32", name="class_probabilities")(x)
    classifier = FunctionalModel(image, probabilities, name=name)
    classifier.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return classifier
