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

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_gen.autoencoders import _check_input_shape, _check_positive_int
from keras_gen.layers import Sampling
from keras_gen.losses import LIKELIHOODS, bernoulli_nll, gaussian_kl, gaussian_nll

VAE_ARCHITECTURES = ("conv", "dense")


def _images(data):
    """The images of a batch that may carry labels: ``x`` or ``(x, ...)``."""
    return data[0] if isinstance(data, (tuple, list)) else data


@keras.saving.register_keras_serializable(package="keras_gen")
class VAE(keras.Model):
    """A variational autoencoder trained by maximising the ELBO with ``fit``.

    Args:
        encoder: a model from images to ``[z_mean, z_log_var, z]``.
        decoder: a model from ``z`` to images in [0, 1] (Bernoulli probabilities, or
            the Gaussian mean).
        likelihood: ``"bernoulli"`` (binary cross-entropy summed over pixels) or
            ``"gaussian"`` (squared error scaled by the observation variance).
        beta: weight of the KL term (beta-VAE); 1 gives the ELBO. Stored in a
            variable ``vae.beta`` that callbacks (KL warm-up) may assign.
        observation_variance: for the Gaussian likelihood, a fixed variance > 0 or
            ``"learned"`` (one trainable log-variance shared by all pixels).

    ``fit`` data are images, or ``(images, labels)`` whose labels are ignored. Metrics:
    ``loss`` (negative ELBO with ``beta``), ``reconstruction_loss``, ``kl_loss``, each
    in nats per image.
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

    def call(self, inputs, training=False):
        """Encodes, samples z and decodes: a stochastic reconstruction."""
        _, _, z = self.encoder(inputs, training=training)
        return self.decoder(z, training=training)

    def sample(self, num, seed=0):
        """Decodes ``num`` draws z ~ N(0, I) made with ``seed``: the same seed gives
        the same images, also after saving and reloading. Returns a numpy array."""
        if not isinstance(num, int) or num < 1:
            raise ValueError(f"num must be an integer >= 1, got {num!r}.")
        z = keras.random.normal((num, self.decoder.input.shape[-1]), seed=seed)
        return keras.ops.convert_to_numpy(self.decoder(z, training=False))

    def reconstruction_nll(self, x, decoded):
        """-log p(x | z) per example, in nats."""
        if self.likelihood == "bernoulli":
            return bernoulli_nll(x, decoded)
        return gaussian_nll(x, decoded, self.log_observation_variance)

    def compute_terms(self, x, training=False):
        """One pass: per-example reconstruction NLL and KL, in nats."""
        z_mean, z_log_var, z = self.encoder(x, training=training)
        decoded = self.decoder(z, training=training)
        return self.reconstruction_nll(x, decoded), gaussian_kl(z_mean, z_log_var)

    def _step_losses(self, x, training):
        reconstruction, kl = self.compute_terms(x, training=training)
        reconstruction, kl = ops.mean(reconstruction), ops.mean(kl)
        return reconstruction + self.beta * kl, reconstruction, kl

    def _record(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = _images(data)
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self._step_losses(x, training=True)
            # Each replica holds its part of the global batch; the optimizer sums the
            # replicas' gradients, so each contributes loss / replicas (as Keras does).
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._record(loss, reconstruction, kl)

    def test_step(self, data):
        return self._record(*self._step_losses(_images(data), training=False))

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit`` after checking the first batch's shape and value range."""
        self.check_images(x)
        validation = kwargs.get("validation_data")
        if validation is not None:
            self.check_images(validation)
        return super().fit(x, *args, **kwargs)

    def check_images(self, data):
        """Raises a ValueError when data (array, tensor or tf.data batches) do not fit
        the encoder's input shape or, for the Bernoulli likelihood, lie outside [0, 1]."""
        if isinstance(data, tf.data.Dataset):
            data = next(iter(data))
        images = _images(data)
        if images is None:
            return
        images = np.asarray(images)
        expected = tuple(self.encoder.input.shape[1:])
        if tuple(images.shape[1:]) != expected:
            raise ValueError(f"images have shape {images.shape[1:]} per example; this VAE expects {expected}.")
        if not np.isfinite(images).all():
            raise ValueError("images contain NaN or inf values.")
        low, high = float(images.min()), float(images.max())
        if self.likelihood == "bernoulli" and (low < 0.0 or high > 1.0):
            raise ValueError(
                f"the Bernoulli likelihood needs images in [0, 1], got values in [{low:g}, {high:g}]; "
                "load them with value_range=(0, 1)."
            )

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


def _check_vae_arguments(input_shape, latent_dim, architecture):
    shape = _check_input_shape(input_shape)
    _check_positive_int("latent_dim", latent_dim)
    if architecture not in VAE_ARCHITECTURES:
        raise ValueError(f"architecture must be one of {VAE_ARCHITECTURES}, got {architecture!r}.")
    if architecture == "conv" and (shape[0] % 4 or shape[1] % 4):
        raise ValueError(f"the conv VAE needs height and width divisible by 4, got input_shape {shape}.")
    return shape


def _encoder_head(x, latent_dim, seed):
    """Gaussian posterior parameters and a reparameterized sample."""
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling(seed=seed, name="z")([z_mean, z_log_var])
    return [z_mean, z_log_var, z]


def build_vae(
    input_shape=(28, 28, 1),
    latent_dim=2,
    architecture="conv",
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
        latent_dim: size of z (2 for the lecture's latent-space plots).
        architecture: ``"conv"``: two stride-2 Conv2D (``filters``) and a Dense(16)
            before the Gaussian head, mirrored by Conv2DTranspose layers in the decoder;
            ``"dense"``: ``hidden_units`` Dense layers, mirrored.
        likelihood, beta, observation_variance: see ``VAE``.
        seed: seed of the ``Sampling`` layer.
        optimizer: optimizer for ``compile``.

    Returns:
        A compiled ``VAE`` with ``.encoder`` (image -> z_mean, z_log_var, z) and
        ``.decoder`` (z -> image in [0, 1]).
    """
    input_shape = _check_vae_arguments(input_shape, latent_dim, architecture)
    height, width, channels = input_shape

    image = keras.Input(input_shape, name="image")
    code = keras.Input((latent_dim,), name="z")
    if architecture == "conv":
        x = image
        for i, f in enumerate(filters[:2]):
            x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"encoder_conv_{i}")(x)
        x = layers.Dense(16, activation="relu", name="encoder_dense")(layers.Flatten()(x))
        y = layers.Dense((height // 4) * (width // 4) * filters[1], activation="relu", name="decoder_dense")(code)
        y = layers.Reshape((height // 4, width // 4, filters[1]))(y)
        for i, f in enumerate(reversed(filters[:2])):
            y = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu", name=f"decoder_deconv_{i}")(y)
        y = layers.Conv2D(channels, 3, padding="same", name="decoder_pixels")(y)
    else:
        x = layers.Flatten()(image)
        for i, units in enumerate(hidden_units):
            x = layers.Dense(units, activation="relu", name=f"encoder_dense_{i}")(x)
        y = code
        for i, units in enumerate(reversed(tuple(hidden_units))):
            y = layers.Dense(units, activation="relu", name=f"decoder_dense_{i}")(y)
        y = layers.Reshape(input_shape)(layers.Dense(height * width * channels, name="decoder_pixels")(y))
    encoder = keras.Model(image, _encoder_head(x, latent_dim, seed), name="encoder")
    decoded = layers.Activation("sigmoid", dtype="float32", name="image_mean")(y)
    decoder = keras.Model(code, decoded, name="decoder")

    vae = VAE(encoder, decoder, likelihood=likelihood, beta=beta, observation_variance=observation_variance, name=name)
    vae.compile(optimizer=optimizer)
    return vae
