"""Variational autoencoders: the ``VAE`` model (custom ``train_step``) and ``build_vae``.

The encoder q(z|x) outputs ``z_mean``, ``z_log_var`` and a sample ``z`` drawn by the
``Sampling`` layer (z = mu + sigma * eps); the decoder p(x|z) maps z to an image. The
loss is the negative ELBO per image: reconstruction negative log-likelihood (summed over
pixels) plus ``beta`` times the closed-form KL(q(z|x) || N(0, I)), in nats.

Example:
    >>> vae = build_vae(latent_dim=2)
    >>> vae.fit(load("mnist"), epochs=10, validation_data=load("mnist", split="test"))
    >>> z_mean, z_log_var, z = vae.encoder.predict(images)
    >>> images = vae.decoder.predict(np.random.normal(size=(16, 2)))
"""

import math
import statistics

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_gen.base import GenerativeModel
from keras_gen.layers import Sampling
from keras_gen.losses import LIKELIHOODS, LOG_VAR_RANGE, bernoulli_nll, gaussian_kl, gaussian_nll
from keras_gen.utils import bits_per_dim, check_input_shape, check_num_classes, check_positive_int, split_batch

VAE_ARCHITECTURES = ("conv", "dense")


@keras.saving.register_keras_serializable(package="keras_gen")
class VAE(GenerativeModel):
    """A variational autoencoder trained by maximising the ELBO with ``fit``.

    Args:
        encoder: a model from images to ``[z_mean, z_log_var, z]``.
        decoder: a model from ``z`` to images in [0, 1] (Bernoulli probabilities, or
            the Gaussian mean).
        likelihood: ``"bernoulli"`` (binary cross-entropy summed over pixels) or
            ``"gaussian"`` (squared error scaled by the observation variance).
        beta: weight of the KL term (beta-VAE); 1 gives the ELBO. Stored in a
            variable ``vae.beta`` that callbacks (``KLWarmUp``) assign.
        observation_variance: for the Gaussian likelihood, a fixed variance > 0 or
            ``"learned"`` (one trainable log-variance shared by all pixels).

    ``fit`` data are images, or ``(images, labels)`` whose labels are ignored. Metrics:
    ``loss`` (negative ELBO with ``beta``), ``reconstruction_loss``, ``kl_loss``, each
    in nats per image. ``sample``/``generate`` (``keras_gen.base.GenerativeModel``)
    decode z ~ N(0, I).
    """

    def __init__(self, encoder, decoder, likelihood="bernoulli", beta=1.0, observation_variance="learned", **kwargs):
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        if not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"beta must be a number >= 0, got {beta!r}.")
        if observation_variance != "learned" and not (
            isinstance(observation_variance, (int, float)) and observation_variance > 0
        ):
            raise ValueError(f"observation_variance must be a number > 0 or 'learned', got {observation_variance!r}.")
        if len(encoder.outputs) != 3:
            raise ValueError(f"the encoder must output [z_mean, z_log_var, z], it has {len(encoder.outputs)} outputs.")
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.observation_variance = observation_variance
        self.beta = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(float(beta)), trainable=False, name="beta"
        )
        self.log_observation_variance = None
        if likelihood == "gaussian":
            fixed = observation_variance != "learned"
            self.log_observation_variance = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(math.log(observation_variance) if fixed else 0.0),
                trainable=not fixed,
                name="log_observation_variance",
            )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True  # encoder and decoder are built Functional models

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    @property
    def latent_dim(self):
        return int(self.encoder.outputs[0].shape[-1])

    @property
    def image_shape(self):
        return tuple(self.decoder.outputs[0].shape[1:])

    # The conditional VAE overrides these three to pass labels along.
    def _inputs(self, data):
        """(images, labels-or-None) of a batch."""
        return split_batch(data)[0], None

    def encode(self, x, labels=None, training=False):
        """``[z_mean, z_log_var, z]`` of images (labels are ignored by a plain VAE)."""
        return self.encoder(x, training=training)

    def decode(self, z, labels=None, training=False):
        """Images in [0, 1] (Bernoulli probabilities or Gaussian means) for codes z."""
        return self.decoder(z, training=training)

    def call(self, inputs, training=False):
        """Encodes, samples z and decodes: a stochastic reconstruction."""
        x, labels = self._inputs(inputs)
        _, _, z = self.encode(x, labels, training=training)
        return self.decode(z, labels, training=training)

    def decode_latent(self, z, labels=None):
        """Decoded images in [0, 1] for numpy codes z (and labels): what ``sample`` and
        ``generate`` return."""
        labels = None if labels is None else keras.ops.convert_to_tensor(labels)
        return self.decode(keras.ops.convert_to_tensor(z, dtype="float32"), labels, training=False)

    def reconstruction_nll(self, x, decoded):
        """-log p(x | z) per example, in nats."""
        if self.likelihood == "bernoulli":
            return bernoulli_nll(x, decoded)
        return gaussian_nll(x, decoded, self.log_observation_variance)

    def compute_terms(self, x, labels=None, training=False):
        """One pass: per-example reconstruction NLL and KL, in nats."""
        z_mean, z_log_var, z = self.encode(x, labels, training=training)
        decoded = self.decode(z, labels, training=training)
        return self.reconstruction_nll(x, decoded), gaussian_kl(z_mean, z_log_var)

    def _step_losses(self, data, training):
        reconstruction, kl = self.compute_terms(*self._inputs(data), training=training)
        reconstruction, kl = ops.mean(reconstruction), ops.mean(kl)
        return reconstruction + self.beta * kl, reconstruction, kl

    def _record(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return self.metric_logs()

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._step_losses(data, training=True)
            scaled = self.replica_scaled_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._record(loss, reconstruction, kl)

    def test_step(self, data):
        return self._record(*self._step_losses(data, training=False))

    def log_importance_weights(self, x, labels=None, eps=None):
        """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) with z_k = mu + sigma * eps_k.

        Args:
            x: a batch of B images; labels: their labels (conditional VAE only).
            eps: ``(K, B, latent_dim)`` standard normal draws.

        Returns:
            ``(log_px, log_w)``, each ``(K, B)`` in nats: log p(x|z_k) and the
            log-weights. ``logsumexp(log_w, 0) - log K`` is the importance-weighted lower
            bound on log p(x) (Burda et al. 2016); K = 1 gives a one-sample ELBO estimate.
        """
        z_mean, z_log_var, _ = self.encode(x, labels, training=False)
        z_mean = ops.cast(z_mean, "float32")
        z_log_var = ops.clip(ops.cast(z_log_var, "float32"), *LOG_VAR_RANGE)
        k, b = ops.shape(eps)[0], ops.shape(eps)[1]
        z = z_mean[None] + ops.exp(0.5 * z_log_var)[None] * eps
        half_log_2pi = 0.5 * math.log(2.0 * math.pi)
        log_q = ops.sum(-half_log_2pi - 0.5 * z_log_var[None] - 0.5 * ops.square(eps), axis=-1)
        log_prior = ops.sum(-half_log_2pi - 0.5 * ops.square(z), axis=-1)
        flat_z = ops.reshape(z, (k * b, self.latent_dim))

        def repeat(t):
            return ops.reshape(ops.repeat(t[None], k, axis=0), (k * b,) + tuple(t.shape[1:]))

        decoded = self.decode(flat_z, None if labels is None else repeat(labels), training=False)
        log_px = -ops.reshape(self.reconstruction_nll(repeat(x), decoded), (k, b))
        return log_px, log_px + log_prior - log_q

    def data_range(self):
        """[0, 1] for the Bernoulli likelihood; the Gaussian one takes any finite images."""
        return (0.0, 1.0) if self.likelihood == "bernoulli" else None

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "likelihood": self.likelihood,
            "beta": float(keras.ops.convert_to_numpy(self.beta)),
            "observation_variance": self.observation_variance,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_gen")
class ConditionalVAE(VAE):
    """A class-conditional VAE: q(z | x, y) and p(x | z, y).

    The label goes to both encoder (``[image, label] -> [z_mean, z_log_var, z]``) and
    decoder (``[z, label] -> image``), so z is free to model what the label does not
    say: style. ``fit`` data are ``(images, labels)`` with integer labels in
    ``[0, num_classes)``.

    Args:
        num_classes: number of classes (>= 2).
        encoder, decoder, likelihood, beta, observation_variance: see ``VAE``.
    """

    def __init__(self, encoder, decoder, num_classes=10, **kwargs):
        check_num_classes(num_classes)
        super().__init__(encoder, decoder, **kwargs)
        self.num_classes = num_classes

    def _inputs(self, data):
        return split_batch(data)

    def encode(self, x, labels=None, training=False):
        return self.encoder([x, labels], training=training)

    def decode(self, z, labels=None, training=False):
        return self.decoder([z, labels], training=training)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def evaluate_likelihood(vae, data, num_samples=100, seed=0, max_decodes=4096):
    """Test-set negative ELBO and importance-weighted NLL, per image, in nats and bits/dim.

    The ELBO uses the closed-form KL and the mean reconstruction NLL over the same K
    draws of z (``evaluate`` with beta = 1 reports a one-draw estimate of it); the
    importance-weighted NLL is -log of the K-sample bound of
    Burda et al. (2016), which tightens towards -log p(x) as K grows:
    NLL_K <= NLL_1 ~ -ELBO.

    Args:
        vae: a trained ``VAE`` or ``ConditionalVAE``.
        data: a ``tf.data.Dataset`` of image batches (``(images, labels)`` for the
            conditional VAE; other labels are ignored), or a numpy array of images.
        num_samples: K, importance samples per image (>= 1).
        seed: seed of the z draws: the same seed gives the same numbers.
        max_decodes: images decoded at once (K is split into chunks to fit).

    Returns:
        A dict: ``negative_elbo``, ``iw_nll`` (nats per image), ``negative_elbo_bits_per_dim``,
        ``iw_nll_bits_per_dim``, ``num_samples``, ``num_images``, ``seed``, ``likelihood``.
    """
    check_positive_int("num_samples", num_samples)
    if not isinstance(data, tf.data.Dataset):
        data = tf.data.Dataset.from_tensor_slices(data).batch(256)
    vae.check_data(data)
    generator = keras.random.SeedGenerator(seed)
    weights = tf.function(vae.log_importance_weights, autograph=False)
    negative_elbo, iw_nll = [], []
    for batch in data:
        x, labels = vae._inputs(batch)
        z_mean, z_log_var, _ = vae.encode(x, labels, training=False)
        chunk = max(1, min(num_samples, max_decodes // int(x.shape[0])))
        log_px, log_w = [], []
        for start in range(0, num_samples, chunk):
            eps = keras.random.normal((min(chunk, num_samples - start), x.shape[0], vae.latent_dim), seed=generator)
            px, w = weights(x, labels, eps)
            log_px.append(px)
            log_w.append(w)
        log_px, log_w = tf.concat(log_px, axis=0), tf.concat(log_w, axis=0)
        # The ELBO with the closed-form KL and the mean reconstruction over the same K draws.
        elbo = tf.reduce_mean(log_px, axis=0) - gaussian_kl(z_mean, z_log_var)
        negative_elbo.append(-keras.ops.convert_to_numpy(elbo))
        iw_nll.append(-keras.ops.convert_to_numpy(tf.reduce_logsumexp(log_w, axis=0) - math.log(num_samples)))
    negative_elbo, iw_nll = np.concatenate(negative_elbo), np.concatenate(iw_nll)
    if not (np.isfinite(negative_elbo).all() and np.isfinite(iw_nll).all()):
        raise FloatingPointError("the likelihood came out NaN or inf: is the model diverged or the data corrupt?")
    shape = vae.image_shape
    return {
        "negative_elbo": float(negative_elbo.mean()),
        "iw_nll": float(iw_nll.mean()),
        "negative_elbo_bits_per_dim": float(bits_per_dim(negative_elbo.mean(), shape)),
        "iw_nll_bits_per_dim": float(bits_per_dim(iw_nll.mean(), shape)),
        "num_samples": num_samples,
        "num_images": int(len(iw_nll)),
        "seed": seed,
        "likelihood": vae.likelihood,
    }


def prior_quantiles(n=15, low=0.05, high=0.95):
    """``n`` points of N(0, 1) at evenly spaced quantiles in ``[low, high]``: a grid over
    the prior, where a VAE's decoder is trained (the manifold figure of Kingma and
    Welling 2014)."""
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantiles need 0 < low < high < 1, got low={low!r}, high={high!r}.")
    normal = statistics.NormalDist()
    return np.array([normal.inv_cdf(q) for q in np.linspace(low, high, n)], np.float32)


def _check_vae_arguments(input_shape, latent_dim, architecture):
    shape = check_input_shape(input_shape)
    check_positive_int("latent_dim", latent_dim)
    if architecture not in VAE_ARCHITECTURES:
        raise ValueError(f"architecture must be one of {VAE_ARCHITECTURES}, got {architecture!r}.")
    if architecture == "conv" and (shape[0] % 4 or shape[1] % 4):
        raise ValueError(f"the conv VAE needs height and width divisible by 4, got input_shape {shape}.")
    return shape


def _networks(input_shape, latent_dim, architecture, filters, hidden_units, seed, num_classes=None):
    """Encoder and decoder Functional models; with ``num_classes``, both also take a
    ``label`` input, one-hot encoded and joined to the image features and to z."""
    height, width, channels = input_shape
    image = keras.Input(input_shape, name="image")
    code = keras.Input((latent_dim,), name="z")
    label = keras.Input((), dtype="int32", name="label") if num_classes else None
    one_hot = (lambda: layers.CategoryEncoding(num_classes, output_mode="one_hot")(label)) if num_classes else None

    def join(features, prefix):
        return features if label is None else layers.Concatenate(name=f"{prefix}_with_label")([features, one_hot()])

    if architecture == "conv":
        x = image
        for i, f in enumerate(filters[:2]):
            x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"encoder_conv_{i}")(x)
        x = join(layers.Flatten()(x), "encoder")
        for i, units in enumerate(hidden_units):
            x = layers.Dense(units, activation="relu", name=f"encoder_dense_{i}")(x)
        y = layers.Dense((height // 4) * (width // 4) * filters[1], activation="relu", name="decoder_dense")(
            join(code, "decoder")
        )
        y = layers.Reshape((height // 4, width // 4, filters[1]))(y)
        for i, f in enumerate(reversed(filters[:2])):
            y = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu",
                                       name=f"decoder_deconv_{i}")(y)
        y = layers.Conv2D(channels, 3, padding="same", name="decoder_pixels")(y)
    else:
        x = join(layers.Flatten()(image), "encoder")
        for i, units in enumerate(hidden_units):
            x = layers.Dense(units, activation="relu", name=f"encoder_dense_{i}")(x)
        y = join(code, "decoder")
        for i, units in enumerate(reversed(tuple(hidden_units))):
            y = layers.Dense(units, activation="relu", name=f"decoder_dense_{i}")(y)
        y = layers.Reshape(input_shape)(layers.Dense(height * width * channels, name="decoder_pixels")(y))
    # The Gaussian posterior's parameters and a reparameterized sample.
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling(seed=seed, name="z")([z_mean, z_log_var])
    decoded = layers.Activation("sigmoid", dtype="float32", name="image_mean")(y)
    conditioned = [] if label is None else [label]
    encoder = keras.Model([image] + conditioned, [z_mean, z_log_var, z], name="encoder")
    decoder = keras.Model([code] + conditioned, decoded, name="decoder")
    return encoder, decoder


def build_vae(
    input_shape=(28, 28, 1),
    latent_dim=2,
    architecture="dense",
    likelihood="bernoulli",
    beta=1.0,
    observation_variance="learned",
    filters=(32, 64),
    hidden_units=(512,),
    seed=None,
    optimizer="adam",
    name="vae",
):
    """Builds and compiles a VAE.

    Args:
        input_shape: ``(H, W, C)`` of images in [0, 1].
        latent_dim: size of z (2 draws latent-space plots).
        architecture: ``"dense"`` (the 784-512-z MLP of Keras's
            ``variational_autoencoder.py`` example): ``hidden_units`` Dense layers,
            mirrored in the decoder; ``"conv"`` (the convolutions of keras.io's VAE
            example): two stride-2 Conv2D (``filters``) and ``hidden_units`` Dense
            layers before the Gaussian head, mirrored by Conv2DTranspose layers.
        likelihood, beta, observation_variance: see ``VAE``.
        seed: seed of the ``Sampling`` layer.
        optimizer: optimizer for ``compile``.

    Returns:
        A compiled ``VAE`` with ``.encoder`` (image -> z_mean, z_log_var, z) and
        ``.decoder`` (z -> image in [0, 1]).
    """
    input_shape = _check_vae_arguments(input_shape, latent_dim, architecture)
    encoder, decoder = _networks(input_shape, latent_dim, architecture, filters, hidden_units, seed)
    vae = VAE(encoder, decoder, likelihood=likelihood, beta=beta, observation_variance=observation_variance, name=name)
    vae.compile(optimizer=optimizer)
    return vae


def build_conditional_vae(
    input_shape=(28, 28, 1),
    latent_dim=2,
    num_classes=10,
    architecture="dense",
    likelihood="bernoulli",
    beta=1.0,
    observation_variance="learned",
    filters=(32, 64),
    hidden_units=(512,),
    seed=None,
    optimizer="adam",
    name="conditional_vae",
):
    """Builds and compiles a class-conditional VAE (``ConditionalVAE``).

    The networks are ``build_vae``'s with the one-hot label joined to the encoder's
    features (before its last Dense layer) and to z at the decoder's input.

    Args:
        num_classes: number of classes (>= 2); labels are integers in [0, num_classes).
        Others: see ``build_vae``.

    Returns:
        A compiled ``ConditionalVAE`` with ``.encoder`` ([image, label] -> z_mean,
        z_log_var, z) and ``.decoder`` ([z, label] -> image in [0, 1]).

    Example:
        >>> cvae = build_conditional_vae(num_classes=10)
        >>> cvae.fit(load("mnist", labels=True), epochs=10)
        >>> sevens = cvae.generate([7] * 8, seed=1)
    """
    input_shape = _check_vae_arguments(input_shape, latent_dim, architecture)
    check_num_classes(num_classes)
    encoder, decoder = _networks(input_shape, latent_dim, architecture, filters, hidden_units, seed, num_classes)
    cvae = ConditionalVAE(
        encoder, decoder, num_classes=num_classes, likelihood=likelihood, beta=beta,
        observation_variance=observation_variance, name=name,
    )
    cvae.compile(optimizer=optimizer)
    return cvae
