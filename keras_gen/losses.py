"""Losses of keras_gen.

Reconstruction losses for autoencoders on images in [0, 1]: binary cross-entropy (the
default for MNIST-like data, a Bernoulli likelihood per pixel) or mean squared error.
VAE terms, per example in nats: Bernoulli and Gaussian negative log-likelihoods summed
over pixels, and the closed-form Gaussian KL to N(0, I).
"""

import math

import keras

RECONSTRUCTION_LOSSES = {
    "binary_crossentropy": keras.losses.BinaryCrossentropy,
    "bce": keras.losses.BinaryCrossentropy,
    "mse": keras.losses.MeanSquaredError,
    "mean_squared_error": keras.losses.MeanSquaredError,
}


def reconstruction_loss(name="binary_crossentropy"):
    """Returns a Keras loss (mean per pixel) for a reconstruction loss name.

    Args:
        name: ``"binary_crossentropy"`` (alias ``"bce"``) or ``"mse"``
            (alias ``"mean_squared_error"``), or a ``keras.losses.Loss`` instance.
    """
    if isinstance(name, keras.losses.Loss):
        return name
    if name not in RECONSTRUCTION_LOSSES:
        raise ValueError(
            f"unknown reconstruction loss {name!r}; use one of {sorted(RECONSTRUCTION_LOSSES)} "
            "or a keras.losses.Loss instance."
        )
    return RECONSTRUCTION_LOSSES[name](name="reconstruction_loss")


LIKELIHOODS = ("bernoulli", "gaussian")
LOG_VAR_RANGE = (-30.0, 20.0)  # clamps log-variances so exp() can neither overflow nor vanish


def _sum_per_example(values):
    return keras.ops.sum(keras.ops.reshape(values, (keras.ops.shape(values)[0], -1)), axis=-1)


def gaussian_kl(z_mean, z_log_var):
    """Closed-form KL(N(z_mean, exp(z_log_var)) || N(0, I)), summed over latent
    dimensions: one value per example, in nats."""
    z_mean = keras.ops.cast(z_mean, "float32")
    z_log_var = keras.ops.clip(keras.ops.cast(z_log_var, "float32"), *LOG_VAR_RANGE)
    return -0.5 * keras.ops.sum(1.0 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var), axis=-1)


def bernoulli_nll(x, probabilities):
    """-log p(x | z) of images in [0, 1] under independent Bernoulli pixels with the
    given probabilities (binary cross-entropy summed over pixels), per example, nats."""
    x = keras.ops.cast(x, "float32")
    p = keras.ops.clip(keras.ops.cast(probabilities, "float32"), 1e-7, 1.0 - 1e-7)
    return _sum_per_example(-(x * keras.ops.log(p) + (1.0 - x) * keras.ops.log(1.0 - p)))


def gaussian_nll(x, mean, log_var):
    """-log p(x | z) under independent Gaussian pixels N(mean, exp(log_var)), summed
    over pixels, per example, in nats. ``log_var`` broadcasts (a scalar is fine)."""
    x, mean = keras.ops.cast(x, "float32"), keras.ops.cast(mean, "float32")
    log_var = keras.ops.clip(keras.ops.cast(log_var, "float32"), *LOG_VAR_RANGE)
    per_pixel = 0.5 * (math.log(2.0 * math.pi) + log_var + keras.ops.square(x - mean) / keras.ops.exp(log_var))
    return _sum_per_example(per_pixel + keras.ops.zeros_like(x))


# ------------------------------------------------------------------------- GAN losses
# Every GAN loss takes the discriminator's raw outputs (logits: no sigmoid in the
# network), returns a float32 scalar (the mean over the batch) and is minimised.

GAN_LOSSES = ("minimax", "non_saturating", "least_squares", "hinge", "wasserstein")
LOG_LOSSES = ("minimax", "non_saturating")  # the losses on log D = log sigmoid(logit)


def check_gan_loss(loss, label_smoothing=0.0):
    """Raises a ValueError for an unknown GAN loss name or a bad label smoothing."""
    if loss not in GAN_LOSSES:
        raise ValueError(f"loss must be one of {GAN_LOSSES}, got {loss!r}.")
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be a number in [0, 1), got {label_smoothing!r}.")
    if label_smoothing and loss not in LOG_LOSSES:
        raise ValueError(f"label_smoothing applies to the log losses {LOG_LOSSES} only, got loss={loss!r}.")


def discriminator_loss(real_logits, fake_logits, loss="non_saturating", label_smoothing=0.0):
    """The discriminator's (critic's) loss on real and generated images.

    With D = sigmoid(logit) for the log losses:

    - ``"minimax"``, ``"non_saturating"``: -log D(x) - log(1 - D(G(z))), the binary
      cross-entropy, written with softplus: -log sigmoid(a) = softplus(-a).
    - ``"least_squares"`` (LSGAN): 0.5 (D(x) - 1)^2 + 0.5 D(G(z))^2 on the raw outputs.
    - ``"hinge"``: relu(1 - D(x)) + relu(1 + D(G(z))).
    - ``"wasserstein"``: D(G(z)) - D(x) (add ``gradient_penalty`` for WGAN-GP).

    Args:
        real_logits, fake_logits: discriminator outputs on real and on generated images.
        loss: one of ``GAN_LOSSES``.
        label_smoothing: one-sided label smoothing for the log losses: real images get
            the target ``1 - label_smoothing`` (0.1 gives 0.9); fakes keep 0.

    Returns:
        The mean loss, a float32 scalar.
    """
    check_gan_loss(loss, label_smoothing)
    real = keras.ops.cast(real_logits, "float32")
    fake = keras.ops.cast(fake_logits, "float32")
    mean, softplus, relu = keras.ops.mean, keras.ops.softplus, keras.ops.relu
    if loss in LOG_LOSSES:
        target = 1.0 - label_smoothing
        return mean(target * softplus(-real) + (1.0 - target) * softplus(real)) + mean(softplus(fake))
    if loss == "least_squares":
        return 0.5 * mean(keras.ops.square(real - 1.0)) + 0.5 * mean(keras.ops.square(fake))
    if loss == "hinge":
        return mean(relu(1.0 - real)) + mean(relu(1.0 + fake))
    return mean(fake) - mean(real)


def generator_loss(fake_logits, loss="non_saturating"):
    """The generator's loss on the discriminator's outputs for generated images.

    - ``"minimax"``: log(1 - D(G(z))) = -softplus(logit), the original objective (its
      gradient vanishes while D rejects the fakes confidently).
    - ``"non_saturating"``: -log D(G(z)) = softplus(-logit).
    - ``"least_squares"``: 0.5 (D(G(z)) - 1)^2.
    - ``"hinge"``, ``"wasserstein"``: -D(G(z)).

    Returns:
        The mean loss, a float32 scalar.
    """
    check_gan_loss(loss)
    fake = keras.ops.cast(fake_logits, "float32")
    if loss == "minimax":
        return -keras.ops.mean(keras.ops.softplus(fake))
    if loss == "non_saturating":
        return keras.ops.mean(keras.ops.softplus(-fake))
    if loss == "least_squares":
        return 0.5 * keras.ops.mean(keras.ops.square(fake - 1.0))
    return -keras.ops.mean(fake)


def auxiliary_class_loss(labels, class_logits):
    """The class term of AC-GAN (Odena et al. 2017): the mean cross-entropy
    ``-log softmax(class_logits)[label]`` of integer labels under a discriminator's class
    head. The discriminator adds it on real images (it learns to classify), the
    generator on its own (it learns to draw images of the class it was asked for).

    Args:
        labels: integer class ids, shape ``(N,)``.
        class_logits: the class head's raw scores, shape ``(N, num_classes)``.

    Returns:
        The mean loss, a float32 scalar.
    """
    logits = keras.ops.cast(class_logits, "float32")
    return keras.ops.mean(keras.ops.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def _input_gradient_norms(critic, images):
    """``(norms, scores)``: the L2 norm over all non-batch axes of each example's gradient
    of ``critic`` with respect to its input, and the critic's scores (float32)."""
    import tensorflow as tf  # the penalties differentiate the critic: TensorFlow backend

    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = tf.cast(critic(images), tf.float32)
    gradients = tf.cast(tape.gradient(scores, images), tf.float32)
    squared = tf.reduce_sum(tf.reshape(tf.square(gradients), [tf.shape(images)[0], -1]), axis=1)
    return tf.sqrt(squared + 1e-12), scores  # the small constant keeps the gradient finite at 0


def gradient_penalty(critic, real, fake, epsilon=None, seed=None):
    """WGAN-GP's penalty (Gulrajani et al. 2017): mean((||grad critic(x_hat)||_2 - 1)^2)
    at x_hat = epsilon * real + (1 - epsilon) * fake, the norm over all non-batch axes.

    The per-example gradient is read off the gradient of the summed scores, so the
    critic must treat examples independently (no batch normalization).

    Args:
        critic: a callable from a batch of images to scores, e.g. ``lambda x: D(x)``.
        real, fake: batches of real and generated images of the same shape.
        epsilon: interpolation weights, one per example: shape ``(N, 1, ..., 1)``.
            Default: drawn from U(0, 1) with ``seed``.
        seed: an int, a ``keras.random.SeedGenerator`` or None; used when ``epsilon``
            is None.

    Returns:
        The penalty, a float32 scalar (multiply by the weight, 10 in the paper).
    """
    import tensorflow as tf

    real, fake = tf.cast(real, tf.float32), tf.cast(fake, tf.float32)
    per_example = tf.concat([tf.shape(real)[:1], tf.ones([tf.rank(real) - 1], tf.int32)], axis=0)
    if epsilon is None:
        epsilon = keras.random.uniform(per_example, seed=seed)
    epsilon = tf.reshape(tf.cast(epsilon, tf.float32), per_example)
    norms, _ = _input_gradient_norms(critic, epsilon * real + (1.0 - epsilon) * fake)
    return tf.reduce_mean(tf.square(norms - 1.0))


def r1_penalty(critic, real):
    """The R1 penalty (Mescheder et al. 2018): mean(||grad critic(x)||_2^2) at the real
    images, the norm over all non-batch axes; the discriminator's loss adds
    ``gamma / 2`` times it. As in ``gradient_penalty``, the critic must treat examples
    independently (no batch normalization).

    Args:
        critic: a callable from a batch of images to scores (logits).
        real: a batch of real images.

    Returns:
        ``(penalty, scores)``: the penalty, a float32 scalar, and the critic's scores on
        ``real`` (float32), so a training step needs no second forward pass for them.
    """
    import tensorflow as tf

    norms, scores = _input_gradient_norms(critic, tf.convert_to_tensor(real))
    return tf.reduce_mean(tf.square(norms)), scores
