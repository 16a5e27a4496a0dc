"""keras_gen's recipes: one runnable script per model (``python recipes/vae.py``), also
installed as ``keras_gen.recipes`` so that ``keras-gen train <model>`` runs the same code.

Each recipe starts with ``keras_gen_cli.quiet_tensorflow()``, before anything loads
TensorFlow: it shows its own output and Keras's progress bar, not TensorFlow's C++
start-up lines (an explicit ``TF_CPP_MIN_LOG_LEVEL`` wins). ``_common.py`` holds what
the recipes share.
"""
