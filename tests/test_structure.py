"""The package's structure: imports point down the layers only, the command line and the
model families start light, and ``.keras`` files of release 0.1.0 still load."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_gen

ROOT = Path(__file__).resolve().parents[1]
RELEASE = Path(__file__).parent / "fixtures" / "release_0_1_0"

# Layer of each module: a module may import only modules of a lower layer. Model
# families share a layer, so none imports another.
LAYERS = {
    "errors": 0, "version": 0, "utils": 1, "layout": 1, "distribute": 1,
    "losses": 2, "latent": 2, "datasets": 2, "layers": 3, "networks": 3.5, "base": 4, "autoregressive": 4.5,
    "autoencoders": 5, "vae": 5, "gan": 5, "xicfg": 5, "pixelcnn": 5, "pixelrnn": 5,
    "classifiers": 6, "plotting": 6, "metrics": 7, "callbacks": 8,
    "export": 9, "serving": 10, "recipes": 11, "cli": 12,
}


def _layer(module):
    """keras_gen.x.y -> layer of x (recipes/ files count as the recipes layer)."""
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else None


def _imports(path):
    """keras_gen modules a file imports, at any depth of the file (lazy imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("keras_gen"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keras_gen"):
            if node.module == "keras_gen":  # a module, or a name the lazy package takes from one
                found.update(f"keras_gen.{keras_gen._WHERE.get(alias.name, alias.name)}" for alias in node.names)
            else:
                found.add(node.module)
    return found


def _package_files():
    files = {f"keras_gen.{p.stem}": p for p in (ROOT / "keras_gen").glob("*.py") if p.stem != "__init__"}
    files.update({f"keras_gen.recipes.{p.stem}": p for p in (ROOT / "recipes").glob("*.py")})
    return files


def test_every_module_has_a_layer():
    assert {name.split(".")[1] for name in _package_files()} <= set(LAYERS)


def test_imports_point_down_the_layers_only():
    upward = []
    for module, path in sorted(_package_files().items()):
        for imported in sorted(_imports(path)):
            recipe_to_recipe = module.startswith("keras_gen.recipes") and imported.startswith("keras_gen.recipes")
            if imported in ("keras_gen", "keras_gen_cli") or recipe_to_recipe:
                continue  # the lazy package; the programs' start-up module; a recipe using the recipes' shared one
            if _layer(imported) >= _layer(module):
                upward.append(f"{module} (layer {_layer(module)}) imports {imported} (layer {_layer(imported)})")
    assert not upward, "imports that point sideways or up:\n" + "\n".join(upward)


def test_every_public_name_resolves():
    """``from keras_gen import X`` works for every name ``keras_gen.__all__`` lists."""
    missing = [name for name in keras_gen.__all__ if getattr(keras_gen, name, None) is None]
    assert not missing


def test_the_layer_check_catches_an_upward_import(tmp_path):
    bad = tmp_path / "gan.py"
    bad.write_text("import numpy\nfrom keras_gen.metrics import fid\n\ndef f():\n    from keras_gen import vae\n")
    assert {_layer(m) for m in _imports(bad)} == {LAYERS["metrics"], LAYERS["vae"]}
    assert all(_layer(m) >= LAYERS["gan"] for m in _imports(bad))


def _fresh_python(code):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.split()


def test_the_command_line_and_the_families_load_only_what_they_need(tmp_path):
    # The console script's entry: keras-gen --help and list run without TensorFlow.
    *_, tensorflow = _fresh_python(f"import sys, keras_gen_cli; keras_gen_cli.main(['list', '--base-dir', "
                                   f"{str(tmp_path)!r}]); print('tensorflow' in sys.modules)")
    assert tensorflow == "False"
    # Plain `import keras_gen` registers the Keras classes (load_model needs them).
    registered, = _fresh_python("import keras, keras_gen; print(keras.saving.get_registered_object("
                                "'keras_gen>PixelCNN') is not None)")
    assert registered == "True"
    # A model family loads no plots, metrics or callbacks (Keras itself may load matplotlib).
    loaded = _fresh_python("import sys, keras_gen.gan, keras_gen.vae, keras_gen.pixelcnn; "
                           "print(*sorted(m for m in sys.modules if m.startswith('keras_gen.')))")
    assert not {"keras_gen.plotting", "keras_gen.metrics", "keras_gen.callbacks"} & set(loaded)


@pytest.mark.parametrize("name", ["vae", "conditional_vae", "dcgan", "conditional_gan", "pixelcnn",
                                  "dense_autoencoder"])
def test_keras_files_of_release_0_1_0_load_and_give_the_same_outputs(name):
    expected = np.load(RELEASE / "outputs.npz")
    model = keras.models.load_model(RELEASE / f"{name}.keras")
    if name in ("vae", "dcgan"):
        got = model.sample(4, seed=3)
    elif name in ("conditional_vae", "conditional_gan"):
        got = model.generate([1, 2, 3, 4], seed=3)
    elif name == "pixelcnn":
        got = model.nll(expected["binary"])
    else:
        got = model.predict(expected["inputs"], verbose=0)
    np.testing.assert_allclose(got, expected[name], rtol=1e-5, atol=1e-6)
    if name != "dense_autoencoder":
        assert model.optimizer is not None or model.d_optimizer is not None  # training state restored too


def test_programs_start_without_tensorflows_console_lines():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import tensorflow as tf; print(int(tf.reduce_sum(tf.ones(3))), flush=True); tf.reshape(tf.ones(3), (2, 2))"
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    quiet = subprocess.run([sys.executable, "-c", "from keras_gen_cli import quiet_tensorflow; quiet_tensorflow(); "
                            + code], capture_output=True, text=True, env=env, timeout=300)
    assert plain.stdout == quiet.stdout == "3\n"
    start_up = ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "cuInit")
    assert any(line in plain.stderr for line in start_up)  # what a user saw before
    assert not any(line in quiet.stderr for line in start_up)
    assert quiet.returncode == 1 and "InvalidArgumentError" in quiet.stderr  # real errors still show
