"""keras_gen's recipes: one runnable script per model (``python recipes/vae.py``), also
installed as ``keras_gen.recipes`` so that ``keras-gen train <model>`` runs the same code.

Importing this package hides TensorFlow's C++ start-up log lines (a recipe shows its own
output and Keras's progress bar); an explicit ``TF_CPP_MIN_LOG_LEVEL`` wins. Recipes
import ``keras_gen.recipes._common`` before anything that loads TensorFlow.
"""

from keras_gen.console import quiet_tensorflow

quiet_tensorflow()
