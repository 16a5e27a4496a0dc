"""The ``keras-gen`` console script's entry, and the start-up every keras_gen program
(the command, the recipes) makes before TensorFlow loads. A top-level module, outside
the ``keras_gen`` package: importing anything of ``keras_gen`` loads TensorFlow (the
package registers its Keras classes), so a program decides about TensorFlow's console
output here first.

``main`` imports keras_gen in its lazy mode, without that registration, so that
``keras-gen --help`` and ``keras-gen list`` answer at once; the commands that need
TensorFlow load it themselves, through ``quiet_tensorflow``.

``quiet_tensorflow()`` does two things before TensorFlow loads, unless asked to be
verbose or the user set ``TF_CPP_MIN_LOG_LEVEL`` (then TensorFlow logs as it was told):

- sets ``TF_CPP_MIN_LOG_LEVEL=3``, which hides the C++ info, warning and error lines
  (``cuInit`` failing on a machine without a GPU, Grappler's remapper notes); errors
  that matter still reach Python as exceptions with their message;
- imports TensorFlow with the process's stderr (file descriptor 2) captured, then writes
  back every captured line but the two start-up notes that no setting silences (absl's
  "All log messages before absl::InitializeLog()" and ``cudart_stub``'s "Could not find
  cuda drivers"). If the import itself fails, everything captured is written back.

The library itself (``import keras_gen``) leaves TensorFlow's logging alone.
"""

import os
import re
import sys
import tempfile

START_UP_NOTES = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                            r"|cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine")


def quiet_tensorflow(verbose=False):
    """Sets TensorFlow's C++ log level to errors-off and imports TensorFlow without its
    start-up notes; does nothing when ``verbose``, when ``TF_CPP_MIN_LOG_LEVEL`` is set,
    or when TensorFlow is already imported."""
    if verbose or "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            import tensorflow  # noqa: F401
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if failed or not START_UP_NOTES.search(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def main(argv=None):
    """Runs the ``keras-gen`` command (``keras_gen.cli``) with keras_gen imported lazily."""
    os.environ["KERAS_GEN_LAZY_IMPORT"] = "1"
    try:
        from keras_gen.cli import main as run
    finally:
        del os.environ["KERAS_GEN_LAZY_IMPORT"]
    return run(argv)
