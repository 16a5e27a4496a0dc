"""keras_gen's version: one place, read by ``setup.py`` and recorded in exports."""

__version__ = "0.1.0"
