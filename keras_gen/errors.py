"""keras_gen's error types, so that callers (the ``keras-gen`` command among them) react
by type, never by message text. No imports: the CLI loads this without TensorFlow.

- ``KerasGenError``: the base of keras_gen's own errors; ``exit_code`` is the CLI's.
- ``InvalidInputError`` (also a ``ValueError``): input a user can fix, such as a label
  out of range or a latent vector of the wrong size (CLI exit code 2).
- ``DatasetError`` (also a ``ValueError``): a dataset that cannot be found or read.
- ``UnsupportedModelError`` (also a ``TypeError``): an entry point given a model it does
  not apply to.
- ``ModelFileError``: a file that cannot be loaded as a Keras model.
- ``NonFiniteModelError`` (also a ``ValueError``): a model whose weights hold NaN or
  inf (training diverged), refused by export and sampling.
- ``ExportError`` and its kinds: ``ExportExistsError``, ``NotAnExportError``,
  ``UntrainedModelError``.
- ``DistributeError`` (also a ``ValueError``): a multi-device or multi-worker set-up
  that cannot work (malformed ``TF_CONFIG``, port in use, a worker that never joins).
"""


class KerasGenError(Exception):
    """Base of keras_gen's errors. ``exit_code``: the ``keras-gen`` command's exit code."""

    exit_code = 1


class InvalidInputError(KerasGenError, ValueError):
    """Input that does not fit the model: a label out of range, z of the wrong shape."""

    exit_code = 2


class DatasetError(KerasGenError, ValueError):
    """A dataset could not be found or read; the message says what to do."""


class UnsupportedModelError(KerasGenError, TypeError):
    """An entry point was given a model it does not apply to; the message says which apply."""


class ModelFileError(KerasGenError):
    """A file that should hold a Keras model cannot be loaded as one."""


class NonFiniteModelError(KerasGenError, ValueError):
    """A model whose weights hold NaN or inf: training diverged."""


class ExportError(KerasGenError):
    """A SavedModel export could not be written or read."""


class ExportExistsError(ExportError, FileExistsError):
    """The export's version folder exists and ``overwrite`` was not given.

    Attributes:
        path: the existing version folder.
    """

    def __init__(self, message, path=None):
        super().__init__(message)
        self.path = path


class NotAnExportError(ExportError, ValueError):
    """A path that is not a keras_gen export (or a model folder holding versions of one)."""


class UntrainedModelError(ExportError, ValueError):
    """A model whose optimizer never took a step, exported without ``allow_untrained``."""


class DistributeError(KerasGenError, ValueError):
    """A ``tf.distribute`` set-up that cannot work: a malformed ``TF_CONFIG``, a port in
    use, a worker that never joins, a batch the replicas cannot share."""
