"""Entry point of the ``keras-gen`` console script (``keras_gen.cli`` holds the command).

It imports keras_gen in its lazy mode, without registering the Keras classes up front,
which would start TensorFlow: ``keras-gen --help`` and ``keras-gen list`` answer at
once, and the commands that need TensorFlow load it themselves.
"""

import os


def main(argv=None):
    os.environ["KERAS_GEN_LAZY_IMPORT"] = "1"
    try:
        from keras_gen.cli import main as run
    finally:
        del os.environ["KERAS_GEN_LAZY_IMPORT"]
    return run(argv)
