"""keras_gen's recipes: one runnable script per model (``python recipes/vae.py``), also
installed as ``keras_gen.recipes`` so that ``keras-gen train <model>`` runs the same code."""
