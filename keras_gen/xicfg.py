"""xICFG: composite functional gradient learning of generative adversarial models
(Johnson and Zhang, ICML 2018, "Composite functional gradient learning of generative
adversarial models"; the long version is their TPAMI paper). The ``XICFG`` model and the
builder ``build_xicfg``.

The method, in the words of this module:

- The **discriminator** D(x) is trained with the logistic loss
  ``softplus(-D(real)) + softplus(D(gen))``, so that it approximates
  log p_real(x) / p_gen(x).
- A **functional gradient step** moves generated images along D's input gradient,
  ``x <- x + eta * grad_x D(x)``: toward where D says real images are.
- **ICFG**: an episode has T stages; in stage t, D gets U updates on real images against
  the current generator's images, then its weights are kept as D_t. After T stages the
  generator is G(z) = G~(z) followed by the T steps ``x <- x + eta * grad D_t(x)``.
- **xICFG**: so that the generator does not grow, the fixed-size approximator G~ is then
  fitted to G on a pool S_z of N latent vectors, minimising ``0.5 ||G~(z) - G(z)||^2``
  for a few passes over the pool, and the next episode starts from the new G~.

Which generator is used where:

- ``sample``/``generate``, the metrics, ``export_model`` and the recipes use the
  method's generator, ``generator_images``: G~ as it was at the start of the last
  completed episode, followed by that episode's T functional steps (the D_t weights are
  kept in the model and saved with it). That is G exactly, of which the current G~
  is only the fitted approximation.
- ``approximator_images`` (and ``model.approximator``) give G~ alone: the fixed-size
  network, one forward pass, cheaper to run.

Training runs through plain ``fit``: each training step is one discriminator update
on one batch of real images; every U steps a stage ends, every U * T steps an episode
ends with the approximator's fit (inside the same compiled step), so the progress bar,
callbacks, ``BackupAndRestore`` and ``StopOnNonFinite`` work as for any model.

Example:
    >>> model = build_xicfg()                                   # conv approximator, T=15
    >>> model.fit(load("fashion_mnist", value_range=(-1, 1), batch_size=64), epochs=2)
    >>> images = model.sample(16, seed=0)                       # (16, 28, 28, 1) in [0, 1]
"""

import math
import sys

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_gen.base import GenerativeModel
from keras_gen.errors import InvalidInputError
from keras_gen.losses import discriminator_loss
from keras_gen.networks import check_dcgan_arguments, dcgan_networks, seeded_initializer
from keras_gen.utils import check_input_shape, check_positive_int, check_value_range, split_batch

APPROXIMATORS = ("conv", "dense")
# The authors' settings (Johnson and Zhang 2018, section 4 and their code's defaults):
STAGES = {"conv": 15, "dense": 25}  # T: 15 for convolutional approximators, 25 for fully connected ones
ETA = {"conv": 0.5, "dense": 2.5}  # eta: 0.5 with batch normalisation in G~ (MNIST-like data), 2.5 without
POOL_BATCHES = 10  # N = 10 x the batch size
APPROXIMATOR_EPOCHS = 10  # passes over the pool per episode
LR_REDUCTIONS = 3  # the approximator's learning rate is divided by 10 when a pass's loss rises, at most 3 times
MAX_D_GAP = 40.0  # training stops when |mean D(real) - mean D(gen)| exceeds this
SAMPLE_BATCH = 250  # images per call of the compiled generator in sample/generate


def _rmsprop():
    """RMSprop(lr 2.5e-4, rho 0.95): the authors' optimizer for D and for G~."""
    return keras.optimizers.RMSprop(2.5e-4, rho=0.95, epsilon=1e-8)


class _StopWhenDiverged(keras.callbacks.Callback):
    """Added by ``XICFG.fit``: stops training after the step that set ``model.diverged``
    and prints why (the step itself already left the kept generator untouched)."""

    def on_train_batch_end(self, batch, logs=None):
        if bool(self.model.diverged.numpy()):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if bool(self.model.diverged.numpy()):
            print(self.model.stop_message, file=sys.stderr)


@keras.saving.register_keras_serializable(package="keras_gen")
class XICFG(GenerativeModel):
    """xICFG trained with ``fit`` (see the module's docstring for the method).

    Args:
        approximator: G~, a Functional model from z ``(latent_dim,)`` to images in
            ``value_range``.
        discriminator: D, a Functional model from images to one logit per image. It
            must act on each image alone (no batch normalisation in training mode):
            the functional step needs grad_x D(x) per image.
        latent_dim: size of z ~ N(0, I).
        stages: T, the stages per episode (>= 1); it sizes the kept D_t weights.
        value_range: ``(low, high)`` of the training images and of G~'s output.
        seed: seed of the model's noise (z, the pool, the shuffles, the first projection).

    ``fit`` data are images, or ``(images, labels)`` whose labels are ignored, in
    ``value_range``. Logged each step: ``d_loss``, ``d_real`` and ``d_gen`` (mean raw
    D on real and on generated images), ``approximator_loss`` (the last pass's
    ``0.5 ||G~(z) - G(z)||^2`` per image, of the episodes that ended in this epoch) and
    ``episode`` (completed episodes).

    Attributes:
        episode, stage, update: counters (variables, saved with the weights).
        diverged: True once training stopped on the D gap; ``stop_message`` says why.
    """

    def __init__(self, approximator, discriminator, latent_dim, stages=STAGES["conv"], value_range=(-1.0, 1.0),
                 seed=None, **kwargs):
        check_positive_int("latent_dim", latent_dim)
        check_positive_int("stages", stages)
        value_range = check_value_range(value_range)
        super().__init__(**kwargs)
        z_shape = tuple(approximator.inputs[0].shape[1:])
        made, taken = tuple(approximator.outputs[0].shape[1:]), tuple(discriminator.inputs[0].shape[1:])
        if z_shape != (latent_dim,):
            raise ValueError(f"latent_dim is {latent_dim} but the approximator's z input has shape {z_shape}.")
        if made != taken:
            raise ValueError(f"the approximator makes images of shape {made}; the discriminator takes {taken}. "
                             "Give networks whose shapes agree.")
        self.approximator = approximator
        self.discriminator = discriminator
        self.latent_dim, self.stages, self.value_range, self.seed = latent_dim, stages, value_range, seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # The generator sample() uses: G~ at the start of the last completed episode ...
        self.sampler_approximator = keras.models.clone_model(approximator)
        self.sampler_approximator.name, self.sampler_approximator.trainable = "sampler_approximator", False
        self.sampler_approximator.set_weights(approximator.get_weights())

        def kept(name, variable):
            return self.add_weight(shape=(stages, *variable.shape), initializer="zeros", trainable=False,
                                   dtype=variable.dtype, name=f"{name}_{variable.name}")

        # ... and that episode's D_t weights: one (T, ...) stack per D variable, for the
        # episode in progress and for the last completed one.
        self.d_history = [kept("d_history", v) for v in discriminator.weights]
        self.sampler_history = [kept("sampler_history", v) for v in discriminator.weights]

        def counter(name, dtype="int32", value="zeros"):
            return self.add_weight(shape=(), initializer=value, trainable=False, dtype=dtype, name=name)

        self.sampler_stages = counter("sampler_stages")  # 0 until an episode completes, then T
        self.sampler_eta = counter("sampler_eta", "float32")
        self.episode, self.stage, self.update = counter("episode"), counter("stage"), counter("update")
        self.initialized = counter("initialized", "bool")  # G~ fitted to a random projection yet?
        self.diverged = counter("diverged", "bool")
        self.d_gap = counter("d_gap", "float32")  # mean D(real) - mean D(gen) of the last finished stage
        self._stage_real = counter("stage_real", "float32")
        self._stage_gen = counter("stage_gen", "float32")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_gen_tracker = keras.metrics.Mean(name="d_gen")
        self.approximator_loss_tracker = keras.metrics.Mean(name="approximator_loss")
        self._sizes = None  # (pool size, approximator batch) the train function was traced with
        self._sampler_function = None
        self.built = True  # the networks are built Functional models

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.d_real_tracker, self.d_gen_tracker, self.approximator_loss_tracker]

    @property
    def image_shape(self):
        return tuple(self.discriminator.inputs[0].shape[1:])

    @property
    def stop_message(self):
        """Why training stopped on the D gap (None while it has not)."""
        if not bool(self.diverged.numpy()):
            return None
        return (f"xICFG stopped in episode {int(self.episode.numpy()) + 1}: |mean D(real) - mean D(gen)| = "
                f"{abs(float(self.d_gap.numpy())):.1f} exceeded max_d_gap={self.max_d_gap:g} (the discriminator "
                "separates real from generated images too easily to guide the generator). The generator of the "
                f"last completed episode ({int(self.episode.numpy())}) is kept: sample and export use it. Try a "
                "smaller eta, or compile again (which clears the stop) to train on.")

    def compile(self, d_optimizer=None, approximator_optimizer=None, eta=ETA["conv"], d_updates=1, pool_size=None,
                approximator_epochs=APPROXIMATOR_EPOCHS, approximator_batch_size=None, lr_reductions=LR_REDUCTIONS,
                max_d_gap=MAX_D_GAP, **kwargs):
        """Sets the training configuration (stored by ``model.save`` with both optimizers).

        Args:
            d_optimizer, approximator_optimizer: two optimizer instances for D and G~;
                default RMSprop(2.5e-4, rho=0.95) each (the authors'). The approximator's
                learning rate must be a number (xICFG lowers it within an episode).
            eta: the functional step size (> 0).
            d_updates: U, discriminator updates per stage (>= 1).
            pool_size: N, latent vectors in the approximator's pool; default 10 x the
                training batch. Must be at least the approximator's batch.
            approximator_epochs: passes over the pool per episode (>= 1).
            approximator_batch_size: the approximator's batch; default the training batch.
            lr_reductions: times per episode the approximator's learning rate may be
                divided by 10 when a pass's loss rises (>= 0).
            max_d_gap: stop training when |mean D(real) - mean D(gen)| over an
                episode's last stage exceeds it (None: never). Compiling clears a stop.
            **kwargs: ``jit_compile``, ``run_eagerly``, ``steps_per_execution``.
        """
        if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not eta > 0 or not math.isfinite(eta):
            raise ValueError(f"eta must be a number > 0 (the functional step size), got {eta!r}.")
        check_positive_int("d_updates", d_updates)
        check_positive_int("approximator_epochs", approximator_epochs)
        for name, value in (("pool_size", pool_size), ("approximator_batch_size", approximator_batch_size)):
            if value is not None:
                check_positive_int(name, value)
        if pool_size is not None and approximator_batch_size is not None and pool_size < approximator_batch_size:
            raise ValueError(f"pool_size ({pool_size}) must be at least approximator_batch_size "
                             f"({approximator_batch_size}).")
        if isinstance(lr_reductions, bool) or not isinstance(lr_reductions, int) or lr_reductions < 0:
            raise ValueError(f"lr_reductions must be an integer >= 0, got {lr_reductions!r}.")
        if max_d_gap is not None and (isinstance(max_d_gap, bool) or not isinstance(max_d_gap, (int, float))
                                      or not max_d_gap > 0):
            raise ValueError(f"max_d_gap must be None or a number > 0, got {max_d_gap!r}.")
        if isinstance(d_optimizer, keras.optimizers.Optimizer) and d_optimizer is approximator_optimizer:
            raise ValueError("d_optimizer and approximator_optimizer must be two optimizer instances, got the same "
                             "one twice.")
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer or _rmsprop())
        self.approximator_optimizer = keras.optimizers.get(approximator_optimizer or _rmsprop())
        learning_rate = self.approximator_optimizer.learning_rate
        if not isinstance(learning_rate, keras.Variable):
            raise ValueError("approximator_optimizer needs a constant learning rate (a number), not a schedule: "
                             "xICFG divides it by 10 when a pass over the pool raises the loss.")
        self.approximator_lr = float(learning_rate.numpy())
        self.eta, self.d_updates, self.pool_size = float(eta), d_updates, pool_size
        self.approximator_epochs, self.approximator_batch_size = approximator_epochs, approximator_batch_size
        self.lr_reductions, self.max_d_gap = lr_reductions, None if max_d_gap is None else float(max_d_gap)
        self._compile_kwargs = kwargs
        for optimizer, network in [(self.d_optimizer, self.discriminator),
                                   (self.approximator_optimizer, self.approximator)]:
            if not optimizer.built:
                optimizer.build(network.trainable_variables)
        self.diverged.assign(False)
        self._sizes = None

    def get_compile_config(self):
        if not self.compiled:
            return None
        return {"d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "approximator_optimizer": keras.saving.serialize_keras_object(self.approximator_optimizer),
                "eta": self.eta, "d_updates": self.d_updates, "pool_size": self.pool_size,
                "approximator_epochs": self.approximator_epochs,
                "approximator_batch_size": self.approximator_batch_size, "lr_reductions": self.lr_reductions,
                "max_d_gap": self.max_d_gap, **self._compile_kwargs}

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "approximator_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        diverged = bool(self.diverged.numpy())
        self.compile(**config)
        self.diverged.assign(diverged)  # reloading is not a new compile: a stop stays a stop

    def call(self, inputs, training=False):
        """G~'s images (in ``value_range``) for z."""
        return self.approximator(inputs, training=training)

    # ---------------------------------------------------------------- the method's parts

    def _d_value(self, weights, images):
        """D(images) computed with ``weights`` (a list like ``discriminator.weights``)."""
        count = len(self.discriminator.trainable_weights)
        logits, _ = self.discriminator.stateless_call(weights[:count], weights[count:], images, training=False)
        return logits

    def functional_steps(self, images, history, count, eta):
        """``images`` after ``count`` functional steps ``x <- x + eta * grad_x D_t(x)``,
        t = 0 .. count-1, D_t's weights taken from ``history`` (stacks like
        ``d_history``). Tensors in, a tensor out; ``count`` may be a tensor."""
        images = tf.convert_to_tensor(images, tf.float32)

        def step(t, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(tf.cast(self._d_value([h[t] for h in history], x), tf.float32))
            return t + 1, x + eta * tape.gradient(total, x)

        return tf.while_loop(lambda t, x: t < count, step, (tf.constant(0), images))[1]

    def functional_step(self, images, eta=None):
        """One step ``x + eta * grad_x D(x)`` with the current discriminator (default
        ``eta``: the compiled one): what each stage of an episode appends to the generator."""
        current = [tf.expand_dims(w, 0) for w in self.discriminator.weights]
        return self.functional_steps(images, current, 1, self.eta if eta is None else eta)

    def generator_images(self, z):
        """The method's generator (a tensor in ``value_range``): G~ at the start of the
        last completed episode, followed by that episode's T functional steps."""
        images = self.sampler_approximator(z, training=False)
        return self.functional_steps(images, self.sampler_history, self.sampler_stages, self.sampler_eta)

    def approximator_images(self, z):
        """G~ alone (a tensor in ``value_range``): the current fixed-size approximation."""
        return self.approximator(z, training=False)

    def approximate(self, z_pool, targets, batch_size):
        """Fits G~ to ``targets`` on the pool ``z_pool``: ``approximator_epochs`` passes
        in shuffled batches, minimising ``0.5 ||G~(z) - target||^2`` per image, with a
        fresh optimizer state; the learning rate is divided by 10 when a pass's mean loss
        rises, at most ``lr_reductions`` times. Returns the last pass's mean loss."""
        optimizer, weights = self.approximator_optimizer, self.approximator.trainable_weights
        learning_rate = optimizer.learning_rate
        learning_rate.assign(self.approximator_lr)
        for slot in optimizer.variables:  # a fresh optimizer for each fit, as the authors' code makes one
            if slot is not optimizer.iterations and slot is not learning_rate:
                slot.assign(tf.zeros_like(slot))
        size = tf.shape(z_pool)[0]
        batches = (size + batch_size - 1) // batch_size

        def train_batch(i, order, total):
            chosen = order[i * batch_size:(i + 1) * batch_size]
            with tf.GradientTape() as tape:
                made = tf.cast(self.approximator(tf.gather(z_pool, chosen), training=True), tf.float32)
                error = tf.reshape(made - tf.gather(targets, chosen), [tf.shape(chosen)[0], -1])
                loss = 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(error), axis=1))
                scaled = self.replica_scaled_loss(loss, optimizer)
            optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
            return i + 1, order, total + loss

        def one_pass(epoch, last, reductions):
            order = keras.random.shuffle(tf.range(size), seed=self.seed_generator)
            total = tf.while_loop(lambda i, *_: i < batches, train_batch, (0, order, 0.0))[2]
            loss = total / tf.cast(batches, tf.float32)
            reduce = tf.logical_and(loss > last, reductions < self.lr_reductions)
            learning_rate.assign(tf.where(reduce, learning_rate / 10.0, learning_rate))
            return epoch + 1, loss, reductions + tf.cast(reduce, tf.int32)

        start = (0, tf.constant(np.inf, tf.float32), 0)
        return tf.while_loop(lambda epoch, *_: epoch < self.approximator_epochs, one_pass, start)[1]

    def _initialize_approximator(self, pool_size, batch_size):
        """The authors' start: G~ fitted to a random linear projection of z (weights
        N(0, 0.01^2)), scaled to ``value_range``. Returns the fit's last loss."""
        z = keras.random.normal((pool_size, self.latent_dim), seed=self.seed_generator)
        projection = keras.random.normal((self.latent_dim, int(np.prod(self.image_shape))), stddev=0.01,
                                         seed=self.seed_generator)
        flat = tf.matmul(z, projection)
        low, high = self.value_range
        unit = (flat - tf.reduce_min(flat)) / (tf.reduce_max(flat) - tf.reduce_min(flat))
        loss = self.approximate(z, tf.reshape(low + (high - low) * unit, [pool_size, *self.image_shape]), batch_size)
        self._keep_sampler(stages=0)
        self.initialized.assign(True)
        return loss

    def _keep_sampler(self, stages):
        """Makes the current G~ and the episode's D_t the generator ``sample`` uses."""
        for kept, weight in zip(self.sampler_approximator.weights, self.approximator.weights):
            kept.assign(weight)
        for kept, history in zip(self.sampler_history, self.d_history):
            kept.assign(history)
        self.sampler_stages.assign(stages)
        self.sampler_eta.assign(self.eta)

    def _end_episode(self, pool_size, batch_size):
        """After the T-th stage: unless the D gap is too wide, keep the grown generator
        for sampling and fit G~ to it on a fresh pool. Returns the fit's last loss (0
        when skipped)."""
        too_wide = self.max_d_gap is not None and tf.abs(self.d_gap) > self.max_d_gap
        self.diverged.assign(tf.logical_or(self.diverged, too_wide))

        def approximate():
            self._keep_sampler(self.stages)
            z = keras.random.normal((pool_size, self.latent_dim), seed=self.seed_generator)
            targets = self.generator_images(z)  # = the grown G: the kept G~ and the T steps just taken
            return self.approximate(z, tf.stop_gradient(targets), batch_size)

        loss = tf.cond(self.diverged, lambda: tf.constant(0.0), approximate)
        self.stage.assign(0)
        self.episode.assign_add(tf.cast(tf.logical_not(self.diverged), tf.int32))
        return loss

    # ------------------------------------------------------------------------ training

    def train_step(self, data):
        real, _ = split_batch(data)
        pool_size, batch_size = self._sizes
        tf.cond(self.initialized, lambda: tf.constant(0.0),
                lambda: self._initialize_approximator(pool_size, batch_size))
        batch = tf.shape(real)[0]
        # The generator of this stage: G~ and the functional steps of the stages done so far.
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        generated = self.functional_steps(self.approximator(z, training=False), self.d_history, self.stage, self.eta)
        with tf.GradientTape() as tape:
            real_logits = tf.cast(self.discriminator(real, training=True), tf.float32)
            gen_logits = tf.cast(self.discriminator(tf.stop_gradient(generated), training=True), tf.float32)
            d_loss = discriminator_loss(real_logits, gen_logits, "non_saturating")  # the logistic loss
            scaled = self.replica_scaled_loss(d_loss, self.d_optimizer)
        weights = self.discriminator.trainable_weights
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, weights), weights))
        d_real, d_gen = tf.reduce_mean(real_logits), tf.reduce_mean(gen_logits)
        self._stage_real.assign_add(d_real / self.d_updates)
        self._stage_gen.assign_add(d_gen / self.d_updates)
        self.update.assign_add(1)
        stage_done = tf.equal(self.update, self.d_updates)
        tf.cond(stage_done, self._end_stage, lambda: tf.constant(0))
        episode_done = tf.logical_and(stage_done, tf.equal(self.stage, self.stages))
        approximator_loss = tf.cond(episode_done, lambda: self._end_episode(pool_size, batch_size),
                                    lambda: tf.constant(0.0))
        self.d_loss_tracker.update_state(d_loss)
        self.d_real_tracker.update_state(d_real)
        self.d_gen_tracker.update_state(d_gen)
        self.approximator_loss_tracker.update_state(approximator_loss, sample_weight=tf.cast(episode_done, tf.float32))
        return {**{m.name: m.result() for m in self.metrics}, "episode": tf.cast(self.episode, tf.float32)}

    def _end_stage(self):
        """After U updates: keep D's weights as D_t, record the stage's D gap."""
        slot = tf.reshape(self.stage.value, [1, 1])
        for history, weight in zip(self.d_history, self.discriminator.weights):
            history.assign(tf.tensor_scatter_nd_update(history.value, slot, weight.value[None]))
        self.d_gap.assign(self._stage_real - self._stage_gen)
        self._stage_real.assign(0.0)
        self._stage_gen.assign(0.0)
        self.update.assign(0)
        self.stage.assign_add(1)
        return tf.constant(0)

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit`` after the data checks. An xICFG has no validation loss
        (``validation_data`` raises a ValueError); it trains on one device (several
        replicas raise an ``InvalidInputError``). Training stops by itself when the D
        gap exceeds ``max_d_gap`` (see ``stop_message``)."""
        if kwargs.get("validation_data") is not None or kwargs.get("validation_split"):
            raise ValueError("an xICFG has no validation loss; measure samples with a callback instead.")
        if not self.compiled:
            raise ValueError("compile the XICFG model before fit (build_xicfg compiles it).")
        if tf.distribute.get_strategy().num_replicas_in_sync > 1:
            raise InvalidInputError("XICFG trains on one device: its episode's approximator fit runs inside the "
                                    "training step, which keras_gen does not distribute over replicas yet.")
        if bool(self.diverged.numpy()):
            raise ValueError(f"{self.stop_message} Call compile() again to train on.")
        images, _ = self.check_data(x, y)
        batch = len(images) if isinstance(x, tf.data.Dataset) else min(kwargs.get("batch_size") or 32, len(images))
        self._set_sizes(batch)
        callbacks = list(kwargs.pop("callbacks", None) or []) + [_StopWhenDiverged()]
        return keras.Model.fit(self, x, y, *args, callbacks=callbacks, **kwargs)

    def _set_sizes(self, batch):
        """The pool size and the approximator's batch for a training batch of ``batch``
        images (the traced step is rebuilt when they change)."""
        batch_size = self.approximator_batch_size or batch
        pool_size = self.pool_size or POOL_BATCHES * batch
        if pool_size < batch_size:
            raise ValueError(f"pool_size ({pool_size}) must be at least the approximator's batch ({batch_size}).")
        if self._sizes != (pool_size, batch_size):
            self._sizes = (pool_size, batch_size)
            self.train_function = None

    # ------------------------------------------------------------------------- sampling

    def decode_latent(self, z, labels=None):
        """The method's generator (``generator_images``) on numpy z, compiled, in batches."""
        if self._sampler_function is None:
            spec = tf.TensorSpec((None, self.latent_dim), tf.float32)
            self._sampler_function = tf.function(self.generator_images, input_signature=[spec])
        return np.concatenate([self._sampler_function(tf.constant(z[i:i + SAMPLE_BATCH])).numpy()
                               for i in range(0, len(z), SAMPLE_BATCH)])

    # -------------------------------------------------------------------- serialization

    def get_config(self):
        return {**super().get_config(),
                "approximator": keras.saving.serialize_keras_object(self.approximator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim, "stages": self.stages, "value_range": list(self.value_range),
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("approximator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


# ------------------------------------------------------------------------------ builders


def dense_approximator(input_shape, latent_dim, units=512, layers_count=4, seed=None):
    """A fully connected approximator with shortcut connections: z -> Dense(units), then
    ``layers_count - 1`` layers ``h <- h + ReLU(Dense(units)(h))``, and a tanh pixel
    layer. No normalisation (so xICFG's eta defaults to 2.5 with it)."""
    init = seeded_initializer(keras.initializers.GlorotUniform, seed)
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(units, kernel_initializer=init(), name="approximator_dense_0")(z)
    for i in range(1, layers_count):
        h = layers.Add(name=f"approximator_shortcut_{i}")(
            [h, layers.ReLU()(layers.Dense(units, kernel_initializer=init(), name=f"approximator_dense_{i}")(h))])
    x = layers.Dense(int(np.prod(input_shape)), kernel_initializer=init(), name="approximator_pixels")(layers.ReLU()(h))
    image = layers.Activation("tanh", dtype="float32", name="image")(layers.Reshape(input_shape)(x))
    return keras.Model(z, image, name="approximator")


def build_xicfg(input_shape=(28, 28, 1), latent_dim=100, approximator="conv", filters=64, units=512, stages=None,
                eta=None, seed=None, name="xicfg", **compile_args):
    """Builds and compiles an xICFG with the authors' defaults.

    Args:
        input_shape: ``(size, size, C)`` of images in [-1, 1], size 28, 32 or 64.
        latent_dim: size of z ~ N(0, I) (the authors: 100).
        approximator: ``"conv"``: a DCGAN generator (batch normalisation, tanh output;
            ``keras_gen.networks.dcgan_networks``); ``"dense"``: ``dense_approximator``,
            fully connected with shortcut connections.
        filters: width of the DCGAN networks (D's first layer; G~ mirrors it).
        units: width of the dense approximator.
        stages: T; default 15 for ``"conv"``, 25 for ``"dense"`` (the authors').
        eta: the step size; default 0.5 for ``"conv"`` (batch normalisation), 2.5 for
            ``"dense"`` (none), the authors' values for MNIST-like data.
        seed: seed of the initial weights and of the training noise.
        **compile_args: other ``XICFG.compile`` arguments (optimizers, d_updates,
            pool_size, approximator_epochs, max_d_gap, ...).

    The discriminator is DCGAN's without batch normalisation (LeakyReLU(0.2), stride-2
    convolutions, one logit), for both approximators: the functional step needs a
    per-image D.

    Returns:
        A compiled ``XICFG`` with ``.approximator`` (z -> image) and ``.discriminator``.
    """
    if approximator not in APPROXIMATORS:
        raise ValueError(f"approximator must be one of {APPROXIMATORS}, got {approximator!r}.")
    shape = check_dcgan_arguments(check_input_shape(input_shape), latent_dim, filters)
    check_positive_int("units", units)
    stages = STAGES[approximator] if stages is None else check_positive_int("stages", stages)
    generator, discriminator = dcgan_networks(shape, latent_dim, filters, seed, batch_norm=False)
    if approximator == "dense":
        generator = dense_approximator(shape, latent_dim, units, seed=None if seed is None else seed + 1)
    generator.name = "approximator"
    model = XICFG(generator, discriminator, latent_dim, stages=stages, seed=seed, name=name)
    model.compile(eta=ETA[approximator] if eta is None else eta, **compile_args)
    return model
