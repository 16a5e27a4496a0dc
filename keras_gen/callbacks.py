"""Keras callbacks of keras_gen."""

import keras


class KLWarmUp(keras.callbacks.Callback):
    """Raises a VAE's KL weight ``beta`` linearly from ``start`` to ``target`` over the
    first ``epochs`` epochs, updated every batch (Bowman et al. 2016; Sønderby et al.
    2016): the decoder learns to use z before the KL term pulls q(z|x) to the prior.

    Args:
        epochs: length of the warm-up in epochs (> 0).
        start: beta at the first step (>= 0).
        target: beta at the end of the warm-up; default: the model's ``beta`` when
            training begins.

    ``beta`` is logged at each epoch's end, so ``History`` shows the schedule.

    Example:
        >>> vae.fit(train, epochs=30, callbacks=[KLWarmUp(epochs=10)])
    """

    def __init__(self, epochs=10, start=0.0, target=None):
        super().__init__()
        if not isinstance(epochs, (int, float)) or epochs <= 0:
            raise ValueError(f"epochs must be a number > 0, got {epochs!r}.")
        if not isinstance(start, (int, float)) or start < 0:
            raise ValueError(f"start must be a number >= 0, got {start!r}.")
        if target is not None and (not isinstance(target, (int, float)) or target < 0):
            raise ValueError(f"target must be None or a number >= 0, got {target!r}.")
        self.epochs = epochs
        self.start = float(start)
        self.target = target
        self._target = None
        self._epoch = 0

    def on_train_begin(self, logs=None):
        if not hasattr(self.model, "beta"):
            raise ValueError(f"KLWarmUp needs a model with a `beta` weight (a VAE), got {type(self.model).__name__}.")
        self._target = float(self.model.beta.numpy()) if self.target is None else float(self.target)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = self.params.get("steps") or 1  # unknown length: one update per epoch
        progress = min(1.0, (self._epoch + min(batch, steps) / steps) / self.epochs)
        self.model.beta.assign(self.start + (self._target - self.start) * progress)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = float(self.model.beta.numpy())

    def get_config(self):
        return {"epochs": self.epochs, "start": self.start, "target": self.target}
