from pathlib import Path

from setuptools import find_packages, setup

version = next(
    line.split('"')[1]
    for line in Path("keras_gen/version.py").read_text().splitlines()
    if line.startswith("__version__")
)

setup(
    name="keras_gen",
    version=version,
    description="Generative models (autoencoders, VAEs, GANs, PixelCNN) for Keras 3 / TensorFlow",
    long_description=Path("README.md").read_text(),
    long_description_content_type="text/markdown",
    # recipes/ is installed as keras_gen.recipes: `keras-gen train <model>` runs the same scripts.
    packages=find_packages(include=["keras_gen", "keras_gen.*"]) + ["keras_gen.recipes"],
    package_dir={"keras_gen.recipes": "recipes"},
    package_data={"keras_gen": ["data/mnist/*.gz", "data/mnist/README.md", "data/classifiers/*"]},
    include_package_data=True,
    python_requires=">=3.10,<3.13",
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.8",
        "tensorboard",  # tf.summary images and keras.callbacks.TensorBoard
        "tensorflow-datasets",
        "importlib_resources",  # tensorflow-datasets needs it to download, but does not declare it
        "matplotlib",
        "numpy",
    ],
    extras_require={
        "onnx": ["tf2onnx", "onnxruntime"],  # export_model(..., onnx=True), checked with onnxruntime
        "test": ["pytest", "pytest-xdist", "ruff", "tf2onnx", "onnxruntime"],  # xdist: -n 2, a test process per core
    },
    py_modules=["keras_gen_cli"],  # the console script's entry: keras_gen without TensorFlow until needed
    entry_points={"console_scripts": ["keras-gen = keras_gen_cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
    ],
)
