"""Exports are standard SavedModels: independent consumers (a TensorFlow-only process,
saved_model_cli, the TFLite converter, onnxruntime) see the same signatures and outputs
as the Keras model."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gen import (
    build_conditional_gan,
    build_conditional_vae,
    build_conv_autoencoder,
    build_dcgan,
    build_denoising_autoencoder,
    build_dense_autoencoder,
    build_pixelcnn,
    build_vae,
    build_xicfg,
    export_generator,
    export_model,
)

# Calls every signature listed in keras_gen.json with the inputs saved for it, importing
# only TensorFlow: what a client of TF-Serving or a plain TF program sees.
CONSUMER = r"""
import sys, json
import numpy as np
import tensorflow as tf
assert "keras_gen" not in sys.modules
inputs = np.load(sys.argv[1])
outputs = {}
for path in sys.argv[3:]:
    served = tf.saved_model.load(path)
    metadata = json.load(open(path + "/keras_gen.json"))
    for name, spec in metadata["signatures"].items():
        args = {key: tf.constant(inputs[f"{path}|{name}|{key}"]) for key in spec["inputs"]}
        for key, value in served.signatures[name](**args).items():
            assert list(value.shape[1:]) == spec["outputs"][key]["shape"][1:] and value.dtype.name == spec["outputs"][key]["dtype"]
            outputs[f"{path}|{name}|{key}"] = value.numpy()
np.savez(sys.argv[2], **outputs)
print(json.dumps({"keras_gen_loaded": "keras_gen" in sys.modules}))
"""  # noqa: E501 (the consumer program's text is kept as is)


def consume(tmp_path, inputs, paths):
    """Runs CONSUMER on ``paths``; returns its outputs keyed ``"<path>|<signature>|<output>"``."""
    np.savez(tmp_path / "inputs.npz", **inputs)
    run = subprocess.run([sys.executable, "-c", CONSUMER, str(tmp_path / "inputs.npz"), str(tmp_path / "out.npz"),
                          *map(str, paths)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"keras_gen_loaded": False}
    return dict(np.load(tmp_path / "out.npz"))


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_every_model_kind_serves_its_signatures_without_keras_gen(tmp_path, mnist_bundled):
    """One TensorFlow-only process calls every signature of an autoencoder, a conv and a
    denoising autoencoder, a VAE, a conditional VAE, a GAN and an xICFG; each output
    equals the Keras model's own for the same inputs."""
    x = mnist_bundled[0][:16].astype(np.float32) / 255.0
    labels = np.array([0, 3, 9, 1] * 4, np.int32)
    dense, dense_encoder, dense_decoder = build_dense_autoencoder(latent_dim=4)
    conv, conv_encoder, conv_decoder = build_conv_autoencoder(filters=(4, 2))
    denoising, den_encoder, den_decoder = build_denoising_autoencoder(filters=(4, 2), noise="mask", seed=0)
    for autoencoder in (dense, conv, denoising):
        autoencoder.fit(x, x, epochs=1, batch_size=8, verbose=0)
    vae = build_vae(latent_dim=3, seed=0)
    vae.fit(x, epochs=1, batch_size=8, verbose=0)
    cvae = build_conditional_vae(latent_dim=2, num_classes=10, seed=0)
    cvae.fit(x, labels, epochs=1, batch_size=8, verbose=0)
    gan = build_dcgan(latent_dim=5, filters=4, seed=0, spectral_norm=True, r1_weight=1.0, loss="hinge", extra_layers=1,
                      minibatch_stddev=True, precision="float32")  # bfloat16's export: its own test
    gan.fit(x * 2 - 1, epochs=1, batch_size=8, verbose=0)
    xicfg = build_xicfg(latent_dim=5, filters=4, stages=2, seed=0)
    xicfg.fit(x * 2 - 1, epochs=1, batch_size=8, verbose=0)  # one episode: G~ and 2 functional steps

    base = tmp_path / "saved_models"
    paths = {name: export_model(model, name, base_dir=base, dataset="mnist") for name, model in
             [("dense", dense), ("conv", conv), ("denoising", denoising), ("vae", vae), ("cvae", cvae), ("gan", gan),
              ("xicfg", xicfg)]}
    rng = np.random.default_rng(0)
    z = {"dense": rng.normal(size=(5, 4)), "conv": rng.normal(size=(5, 7, 7, 2)),
         "denoising": rng.normal(size=(5, 7, 7, 2)), "vae": rng.normal(size=(5, 3)), "cvae": rng.normal(size=(16, 2)),
         "gan": rng.normal(size=(5, 5)), "xicfg": rng.normal(size=(5, 5))}
    z = {name: value.astype(np.float32) for name, value in z.items()}

    expected, inputs = {}, {}

    def want(name, signature, output, value, **given):
        for key, array in given.items():
            inputs[f"{paths[name]}|{signature}|{key}"] = array
        expected[f"{paths[name]}|{signature}|{output}"] = (np.clip(numpy(value), 0.0, 1.0) if output == "image"
                                                           else numpy(value))

    for name, model, encoder, decoder in [("dense", dense, dense_encoder, dense_decoder),
                                          ("conv", conv, conv_encoder, conv_decoder),
                                          ("denoising", denoising, den_encoder, den_decoder)]:
        for signature in ("serving_default", "decode"):
            want(name, signature, "image", decoder(z[name]), z=z[name])
        want(name, "encode", "z", encoder(x), image=x)
        # The model itself at inference: the denoising AE's corruption layer is inactive.
        want(name, "denoise" if name == "denoising" else "reconstruct", "image", model.predict(x, verbose=0), image=x)
    for signature in ("serving_default", "decode"):
        want("vae", signature, "image", vae.decoder(z["vae"]), z=z["vae"])
        want("cvae", signature, "image", cvae.generate(labels, z=z["cvae"]), z=z["cvae"], label=labels)
    z_mean, z_log_var, _ = vae.encoder(x)
    want("vae", "encode", "z_mean", z_mean, image=x)
    expected[f"{paths['vae']}|encode|z_log_var"] = numpy(z_log_var)
    want("vae", "reconstruct", "image", vae.decoder(z_mean), image=x)
    c_mean = numpy(cvae.encoder([x, labels])[0])
    want("cvae", "encode", "z_mean", c_mean, image=x, label=labels)
    want("cvae", "reconstruct", "image", cvae.decoder([c_mean, labels]), image=x, label=labels)
    # sample(seed) is model.sample(num, seed): the same stateless draws as in Keras.
    want("vae", "sample", "image", vae.sample(6, seed=11), seed=np.int64(11), num=np.int32(6))
    want("cvae", "sample", "image", cvae.generate(labels, seed=11), seed=np.int64(11), label=labels)
    want("gan", "sample", "image", gan.sample(6, seed=11), seed=np.int64(11), num=np.int32(6))
    want("gan", "serving_default", "image", gan.generate(z=z["gan"]), z=z["gan"])
    want("xicfg", "sample", "image", xicfg.sample(6, seed=11), seed=np.int64(11), num=np.int32(6))
    want("xicfg", "serving_default", "image", xicfg.generate(z=z["xicfg"]), z=z["xicfg"])

    served = consume(tmp_path, inputs, paths.values())
    assert set(served) >= set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(served[key], value, atol=2e-6, err_msg=key)
    assert served[f"{paths['gan']}|sample|image"].min() >= 0.0  # the tanh network's [-1, 1] came back as [0, 1]

    signatures = {name: list(json.loads((path / "keras_gen.json").read_text())["signatures"])
                  for name, path in paths.items()}
    assert signatures["dense"] == signatures["conv"] == ["serving_default", "decode", "encode", "reconstruct"]
    assert signatures["denoising"] == ["serving_default", "decode", "encode", "denoise"]
    assert signatures["vae"] == signatures["cvae"] == ["serving_default", "decode", "sample", "encode", "reconstruct"]
    assert signatures["gan"] == signatures["xicfg"] == ["serving_default", "sample"]
    metadata = json.loads((paths["denoising"] / "keras_gen.json").read_text())
    assert metadata["kind"] == "denoising autoencoder" and metadata["noise"] == {"kind": "mask", "amount": 0.5}
    assert (metadata["latent_shape"] == [7, 7, 2] and metadata["dataset"] == "mnist"
            and metadata["image_dtype"] == "float32")
    assert json.loads((paths["gan"] / "keras_gen.json").read_text())["trained_range"] == [-1.0, 1.0]


def test_uint8_images_and_input_checks(tmp_path, mnist_bundled):
    x = mnist_bundled[0][:8].astype(np.float32) / 255.0
    vae = build_vae(latent_dim=2, seed=0)
    vae.fit(x, epochs=1, batch_size=8, verbose=0)
    path = export_model(vae, "vae", base_dir=tmp_path, image_dtype="uint8")
    served = tf.saved_model.load(str(path))
    image = served.signatures["reconstruct"](image=tf.constant(x))["image"].numpy()
    assert image.dtype == np.uint8
    z_mean = vae.encoder(x)[0]
    np.testing.assert_array_equal(image, np.round(np.clip(numpy(vae.decoder(z_mean)), 0, 1) * 255).astype(np.uint8))
    assert json.loads((path / "keras_gen.json").read_text())["output_range"] == [0, 255]
    # Images outside [0, 1] (e.g. 0..255 sent by mistake) and NaN are refused, not scored.
    for bad in (x * 255.0, np.full_like(x, np.nan)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"image values must lie in \[0, 1\]"):
            served.signatures["encode"](image=tf.constant(bad))
    with pytest.raises(ValueError, match="image_dtype must be one of"):
        export_model(vae, "vae", base_dir=tmp_path, image_dtype="int8")


def test_export_refuses_untrained_unbuilt_foreign_models_and_existing_versions(tmp_path):
    vae = build_vae(latent_dim=2, seed=0)
    with pytest.raises(ValueError, match="was never trained .* pass allow_untrained=True"):
        export_model(vae, "vae", base_dir=tmp_path)
    assert not (tmp_path / "vae").exists()
    gan = build_dcgan(latent_dim=4, filters=4, seed=0)  # its optimizers are built at compile, with 0 steps
    with pytest.raises(ValueError, match="was never trained"):
        export_model(gan, "gan", base_dir=tmp_path)

    class Unbuilt(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="was never built"):
        export_model(Unbuilt(), "u", base_dir=tmp_path)
    classifier = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match=r"expected a keras_gen model .AutoregressiveModel, GAN, VAE, XICFG. or an"):
        export_model(classifier, "c", base_dir=tmp_path, allow_untrained=True)

    # Versions: the next one by default; an existing one is refused unless overwrite=True.
    assert export_model(vae, "vae", base_dir=tmp_path, allow_untrained=True).name == "1"
    assert export_model(vae, "vae", base_dir=tmp_path, allow_untrained=True).name == "2"
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        export_model(vae, "vae", base_dir=tmp_path, version=1, allow_untrained=True)
    assert (tmp_path / "vae" / "1" / "saved_model.pb").exists(), "a refused export must leave the old one intact"
    export_model(vae, "vae", base_dir=tmp_path, version=1, overwrite=True, allow_untrained=True)
    with pytest.raises(ValueError, match="version must be an integer >= 1"):
        export_model(vae, "vae", base_dir=tmp_path, version=0, allow_untrained=True)
    with pytest.raises(ValueError, match="name must be a non-empty folder name"):
        export_model(vae, "a/b", base_dir=tmp_path, allow_untrained=True)


def test_conditional_export_saved_model_cli_and_label_check(tmp_path):
    cvae = build_conditional_vae(latent_dim=2, num_classes=10, seed=0)
    with pytest.raises(ValueError, match="needs num_classes"):
        export_generator(cvae.decoder, "cvae", base_dir=tmp_path)
    path = export_model(cvae, "cvae", base_dir=tmp_path, allow_untrained=True)
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or shutil.which("saved_model_cli")
    shown = subprocess.run([cli, "show", "--all", "--dir", str(path)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for expected in ("signature_def['serving_default']", "signature_def['sample']", "signature_def['encode']",
                     "signature_def['decode']", "signature_def['reconstruct']", "inputs['z']", "inputs['label']",
                     "inputs['seed']", "inputs['image']", "outputs['image']", "outputs['z_mean']", "shape: (-1, 2)",
                     "shape: (-1, 28, 28, 1)"):
        assert expected in shown.stdout, expected
    served = tf.saved_model.load(str(path))
    z = np.zeros((3, 2), np.float32)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label must lie in \[0, 9\]"):
        served.signatures["serving_default"](z=tf.constant(z), label=tf.constant([0, 1, 10], tf.int32))


def _bfloat16_gan_and_float32_copy():
    """A bfloat16 DCGAN whose images are far from 0.5 (kernels far from their N(0, 0.02)
    start), and a float32 DCGAN with the same generator weights."""
    bf16 = build_dcgan(latent_dim=5, filters=4, seed=0, precision="mixed_bfloat16")
    bf16.fit(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32), batch_size=8, verbose=0)
    rng = np.random.default_rng(1)
    for kernel in [w for w in bf16.generator.weights if "kernel" in w.path]:
        kernel.assign(rng.normal(0.0, 0.3, kernel.shape).astype(np.float32))
    float32 = build_dcgan(latent_dim=5, filters=4, seed=0, precision="float32")
    float32.generator.set_weights(bf16.generator.get_weights())
    return bf16, float32


def test_a_bfloat16_gan_exports_in_float32_for_any_serving_machine_and_tflite(tmp_path):
    bf16, float32 = _bfloat16_gan_and_float32_copy()
    path = export_model(bf16, "bf16", base_dir=tmp_path)
    z = bf16.latent_vectors(4, seed=3)
    served = tf.saved_model.load(str(path)).signatures["serving_default"](z=tf.constant(z))["image"].numpy()
    np.testing.assert_allclose(served, float32.generate(z=z), atol=2e-6)  # float32, the same weights
    assert np.abs(served - bf16.generate(z=z)).max() > 1e-3  # the Keras model itself computes in bfloat16
    assert bf16.generator.get_layer("generator_deconv_0").dtype_policy.name == "mixed_bfloat16"  # left as it was
    converter = tf.lite.TFLiteConverter.from_saved_model(str(path), signature_keys=["serving_default"])
    interpreter = tf.lite.Interpreter(model_content=converter.convert())  # no bfloat16 op TFLite lacks
    np.testing.assert_allclose(interpreter.get_signature_runner("serving_default")(z=z)["image"], served, atol=1e-5)


def test_generator_converts_to_tflite_with_the_same_output(tmp_path):
    # An AC-GAN (a class head on D, which the export leaves behind) with an EMA generator.
    gan = build_conditional_gan(num_classes=3, latent_dim=5, filters=4, seed=0, ema=0.5, auxiliary_classifier=True)
    gan.fit(np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32), np.arange(16) % 3,
            batch_size=8, epochs=1, verbose=0)
    path = export_model(gan, "cgan", base_dir=tmp_path)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(path), signature_keys=["serving_default"])
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    z, labels = gan.latent_vectors(4, seed=3), np.array([0, 2, 1, 2], np.int32)
    image = interpreter.get_signature_runner("serving_default")(z=z, label=labels)["image"]
    np.testing.assert_allclose(image, gan.generate(labels, z=z), atol=1e-5)  # the EMA generator, in [0, 1]


def test_onnx_export_matches_keras(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra: pip install 'keras_gen[onnx]'")
    pytest.importorskip("tf2onnx")
    gan = build_conditional_gan(num_classes=3, latent_dim=5, filters=4, seed=0)
    gan.fit(np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32), np.arange(8) % 3,
            batch_size=8, epochs=1, verbose=0)
    path = export_model(gan, "cgan", base_dir=tmp_path, onnx=True)
    session = ort.InferenceSession(str(path / "model.onnx"))
    assert sorted(i.name for i in session.get_inputs()) == ["label", "z"]
    z, labels = gan.latent_vectors(4, seed=1), np.array([0, 1, 2, 0], np.int32)
    image = session.run(None, {"z": z, "label": labels})[0]
    np.testing.assert_allclose(image, gan.generate(labels, z=z), atol=1e-5)
    assert image.min() >= 0.0 and (tmp_path / "cgan" / "1" / "saved_model.pb").exists()
    # A bfloat16 generator is written in float32: the same weights, computed as a float32 copy computes them.
    bf16, float32 = _bfloat16_gan_and_float32_copy()
    path = export_model(bf16, "bf16", base_dir=tmp_path, onnx=True)
    image = ort.InferenceSession(str(path / "model.onnx")).run(None, {"z": z})[0]
    np.testing.assert_allclose(image, float32.generate(z=z), atol=1e-5)
    assert np.abs(image - bf16.generate(z=z)).max() > 1e-3  # the Keras model itself computes in bfloat16
    with pytest.raises(ValueError, match="not supported for PixelCNN"):
        export_model(build_pixelcnn((6, 6, 1), filters=4, num_layers=1), "p", base_dir=tmp_path, onnx=True,
                     allow_untrained=True)
