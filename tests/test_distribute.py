"""Training under tf.distribute strategies: two real worker processes on 127.0.0.1
(MultiWorkerMirroredStrategy) against one process, backup and resume after a killed
worker, the CLI's --distribute, and the errors of a cluster that cannot work."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_gen import distribute
from keras_gen.errors import DistributeError

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "tests" / "multi_worker_job.py"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_GEN_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
sys.path.insert(0, str(ROOT / "tests"))
import multi_worker_job  # noqa: E402  (the workers' code, also run here on one process)


def free_ports(count):
    """``count`` ports free now on 127.0.0.1 (those of ``distribute.local_cluster``)."""
    workers = json.loads(distribute.local_cluster(count)[0])["cluster"]["worker"]
    return [int(address.rpartition(":")[2]) for address in workers]


def launch(command, cwd, workers=2):
    """One process per worker of a new cluster on this machine, each with its TF_CONFIG."""
    return [subprocess.Popen(command, cwd=cwd, env={**ENV, "TF_CONFIG": config}, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for config in distribute.local_cluster(workers)]


def wait(processes, timeout=300):
    """``(return codes, outputs)``; a worker still running after ``timeout`` s is killed
    (SIGKILL: a TensorFlow worker waiting on a collective ignores SIGTERM)."""
    deadline, outputs = time.monotonic() + timeout, []
    for process in processes:
        try:
            outputs.append(process.communicate(timeout=max(1.0, deadline - time.monotonic()))[0])
        except subprocess.TimeoutExpired:
            process.kill()
            outputs.append(process.communicate()[0] + "\n[killed after the timeout]")
    return [p.returncode for p in processes], outputs


def load(path):
    return np.load(path.with_suffix(".npz")), json.loads(path.with_suffix(".json").read_text())


# ------------------------------------------------------------------------ two workers


def test_two_workers_train_like_one_process(tmp_path):
    """A VAE and a DCGAN (2 epochs), a conditional VAE, a conditional GAN, a WGAN-GP
    (gradient penalty, d_steps=2), a PixelCNN, a Diagonal BiLSTM PixelRNN and a dense
    autoencoder (1 epoch) on 64
    shuffled real images in global batches of 16: both workers end with the same weights,
    and with those of the same run on one process up to float32 summation order. Tolerance: Adam
    divides each gradient entry by its running scale, so a round-off difference in a
    near-zero entry moves that weight by up to about the learning rate (8e-4 for the
    DCGAN) per step; measured: at most 4.3e-7 (the DCGAN's) after 8 steps; atol 1e-4. Unsynchronized
    batch norm or the same noise on both workers differ by about 1e-3."""
    codes, outputs = wait(launch([sys.executable, str(JOB), str(tmp_path)], tmp_path))
    assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
    for output in outputs:  # a global batch the workers cannot share is refused by fit
        assert "REFUSED the global batch size 15 does not split evenly over the 2 replicas" in output
    (weights0, history0), (weights1, history1) = load(tmp_path / "0"), load(tmp_path / "1")
    single = multi_worker_job.train(tf.distribute.get_strategy())
    for family, (weights, history) in single.items():
        names = [f"{family}_{i}" for i in range(len(weights))]
        for name, w in zip(names, weights):
            np.testing.assert_array_equal(weights0[name], weights1[name])
            np.testing.assert_allclose(weights0[name], w, atol=1e-4, rtol=0)
        assert history0[family] == history1[family]
        for key, values in history.items():  # the logs are the means over both workers
            np.testing.assert_allclose(history0[family][key], values, rtol=1e-4)
    initial = multi_worker_job.build("dcgan").get_weights()
    assert max(np.abs(a - b).max() for a, b in zip(single["dcgan"][0], initial)) > 1e-3, "training moved the weights"


def test_a_killed_worker_resumes_from_the_last_backup(tmp_path):
    """Worker 1 dies (SIGKILL) in the middle of epoch 3 of 4; the job is killed and started
    again with the same command: it resumes at epoch 3 from the chief's backup, with the
    data's reshuffled order moved on to epoch 3, and ends with the weights of the same
    two workers' uninterrupted run (atol 1e-6: the same collectives in the same order;
    in one process, the same resume with the data left misaligned ends 5.5e-4 away)."""
    backup = tmp_path / "backup"
    command = [sys.executable, str(JOB), str(tmp_path), "--backup", str(backup)]
    first = launch(command + ["--kill-at-epoch", "2"], tmp_path)
    codes, outputs = wait(first[1:], timeout=300)
    assert codes == [-signal.SIGKILL], outputs[0][-3000:]
    first[0].kill()  # as a cluster manager restarts the whole job
    wait(first[:1])
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2

    codes, outputs = wait(launch(command + ["--reference", str(tmp_path / "reference_backup")], tmp_path))
    assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
    (weights, history), (reference, full_history) = load(tmp_path / "0"), load(tmp_path / "0_reference")
    assert len(history["dcgan"]["d_loss"]) == 2, "the resumed run trains the last 2 epochs only"
    np.testing.assert_allclose(history["dcgan"]["d_loss"], full_history["dcgan"]["d_loss"][2:], rtol=1e-6)
    assert not (backup / "latest.weights.h5").exists(), "the chief deletes the backup when done"
    for name in reference.files:
        np.testing.assert_allclose(weights[name], reference[name], atol=1e-6, rtol=0)


def test_cli_trains_a_vae_on_two_workers_and_the_chief_exports_it(tmp_path):
    from test_cli import keras_gen_script

    from keras_gen.serving import load_export

    command = [keras_gen_script(), "train", "vae", "--distribute", "multi_worker", "--epochs", "1",
               "--limit", "128", "--batch-size", "32", "--no-compare-ae", "--iw-samples", "1"]
    codes, outputs = wait(launch(command, tmp_path))
    assert codes == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert "global batch 32 = 2 x 16" in outputs[0] and "this process is worker 1" in outputs[1]
    assert "not the chief" in outputs[1] and "not the chief" not in outputs[0]
    scores = [line for output in outputs for line in output.splitlines() if line.startswith("test negative ELBO")]
    assert len(scores) == 2 and scores[0] == scores[1], "both workers hold the same model"
    assert (tmp_path / "outputs" / "vae" / "model.keras").exists()
    export = load_export(tmp_path / "saved_models" / "vae" / "1")
    images = export.sample(num=4, seed=0)
    assert images.shape == (4, 28, 28, 1) and 0.0 <= images.min() <= images.max() <= 1.0
    assert sorted(p.name for p in (tmp_path / "saved_models" / "vae").iterdir()) == ["1"], "only the chief exports"


# ----------------------------------------------------------------------------- errors

BAD_CONFIGS = {
    "": "TF_CONFIG environment variable, which is not set",
    "{not json": "TF_CONFIG is not valid JSON",
    '{"cluster": {"worker": ["127.0.0.1:1"]}}': "needs a 'cluster' and a 'task' object",
    '{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}': "cluster must have 'worker'",
    '{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}': "must be 'host:port'",
    '{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}': "lists an address twice",
    '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}': "task.index is 2",
    '{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}': "task.type is 'chief'",
}


@pytest.mark.parametrize("config", list(BAD_CONFIGS))
def test_a_malformed_tf_config_is_named(config):
    with pytest.raises(DistributeError, match=BAD_CONFIGS[config].replace("(", r"\(")):
        distribute.read_tf_config({"TF_CONFIG": config} if config else {})


def test_tf_config_gives_the_cluster_and_this_task():
    config = {"cluster": {"chief": ["c:1"], "worker": ["w:2", "w:3"]}, "task": {"type": "worker", "index": 1}}
    assert distribute.read_tf_config({"TF_CONFIG": json.dumps(config)}) == (["c:1", "w:2", "w:3"], "worker", 1, 2)
    addresses, task, index, position = distribute.read_tf_config({"TF_CONFIG": distribute.local_cluster(3)[2]})
    assert len(set(addresses)) == 3 and (task, index, position) == ("worker", 2, 2)
    with pytest.raises(DistributeError, match="num_workers must be an integer >= 1, got 0"):
        distribute.local_cluster(0)


def test_a_port_in_use_is_named():
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(DistributeError, match=f"port {port} of this worker .* is in use by another process"):
            distribute.wait_for_workers([f"127.0.0.1:{port}", "127.0.0.1:1"], 0, timeout=5)


def test_a_worker_that_never_joins_is_named_after_the_timeout():
    mine, missing = free_ports(2)
    start = time.monotonic()
    with pytest.raises(DistributeError, match=f"1 never joined: 127.0.0.1:{missing}"):
        distribute.wait_for_workers([f"127.0.0.1:{mine}", f"127.0.0.1:{missing}"], 0, timeout=1.5)
    assert time.monotonic() - start < 10


def test_workers_that_start_apart_meet():
    """Two workers of one cluster, the second started 1 s after the first, both return."""
    import threading

    addresses = [f"127.0.0.1:{p}" for p in free_ports(2)]
    errors = []

    def worker(position, delay):
        time.sleep(delay)
        try:
            distribute.wait_for_workers(addresses, position, timeout=20)
        except DistributeError as err:
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i, float(i))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and not any(t.is_alive() for t in threads)


def test_recipe_flags_refuse_a_missing_tf_config(recipe, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code, _, err = recipe("dense_autoencoder", "--distribute", "multi_worker", "--epochs", "1", "--limit", "64")
    assert code == 1 and "TF_CONFIG environment variable, which is not set" in err
    assert not tf.distribute.has_strategy()


def test_recipe_trains_under_mirrored_mixed_precision_and_xla(recipe, tmp_path):
    """``--distribute mirrored --mixed-precision --jit-compile``: float16 compute, XLA, every
    local device (the CPU here); the loss still falls, the export is written, and the
    process-wide settings are undone afterwards."""
    import keras

    code, out, err = recipe("dense_autoencoder", "--distribute", "mirrored", "--mixed-precision", "--jit-compile",
                            "--epochs", "2", "--limit", "512", "--out", tmp_path / "out")
    assert code == 0, err[-3000:]
    assert "distribute: MirroredStrategy, 1 replica(s) in sync" in out and "compiled with XLA" in out
    line = next(printed for printed in out.splitlines() if printed.startswith("test reconstruction loss: "))
    assert 0.0 < float(line.split()[3]) < 0.7
    model = keras.models.load_model(tmp_path / "out" / "model.keras")
    dense = [layer for layer in model.get_layer("encoder").layers if isinstance(layer, keras.layers.Dense)]
    assert dense and all(layer.dtype_policy.name == "mixed_float16" for layer in dense)
    assert "exported for TF-Serving to saved_models/dense_autoencoder/1/" in out
    assert keras.mixed_precision.global_policy().name == "float32" and not tf.distribute.has_strategy()


# ------------------------------------------------------------------ one device: fit's step


def _step_function_kind(function):
    """"one step" for ``FitMixin``'s compiled step on one replica, "keras" for Keras's own."""
    return "one step" if "FitMixin._one_step_function" in function.__qualname__ else "keras"


@pytest.mark.parametrize("steps_per_execution", [1, 2])
def test_one_device_fit_trains_exactly_as_keras_own_step_function(fashion_small, steps_per_execution):
    """The same DCGAN steps on real images, through keras_gen's one-step function (the
    default on one replica) and through Keras's own (forced, and with
    ``steps_per_execution=2``, which keeps Keras's): the same logs and weights."""
    import keras

    from keras_gen import build_dcgan

    images = fashion_small[0][:64] * 2.0 - 1.0
    data = tf.data.Dataset.from_tensor_slices(images).batch(16)  # unshuffled: both see the same batches
    models, histories = {}, {}
    for kind in ("one step", "keras"):
        models[kind] = build_dcgan(latent_dim=8, filters=8, seed=0, steps_per_execution=steps_per_execution)
        if kind == "keras":
            keras.Model.make_train_function(models[kind], force=True)  # Keras's; fit keeps a built one
        histories[kind] = models[kind].fit(data, epochs=2, verbose=0).history
    expected = "one step" if steps_per_execution == 1 else "keras"
    assert _step_function_kind(models["one step"].train_function) == expected
    assert _step_function_kind(models["keras"].train_function) == "keras"
    assert histories["one step"] == histories["keras"] and len(histories["keras"]["d_loss"]) == 2
    assert int(models["one step"].d_optimizer.iterations) == 8  # 4 batches, 2 epochs
    for mine, theirs in zip(models["one step"].weights, models["keras"].weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)


def test_one_device_fit_and_evaluate_read_all_of_data_of_unknown_length(fashion_small):
    """A dataset whose length TensorFlow cannot know (a filter) ends each epoch when it runs
    out: every batch trained once per epoch, then the next epoch; ``evaluate`` reads it all
    and agrees with Keras's own test function."""
    import keras

    from keras_gen import build_vae

    images = fashion_small[0][:80]
    data = tf.data.Dataset.from_tensor_slices(images).filter(lambda image: True).batch(16)  # 5 batches
    assert data.cardinality() == tf.data.UNKNOWN_CARDINALITY
    vae = build_vae(latent_dim=2, hidden_units=(16,), seed=0)
    seen = []
    counter = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    with pytest.warns(UserWarning, match="ran out of data"):  # Keras's own notice of an epoch's end
        history = vae.fit(data, epochs=2, verbose=0, callbacks=[counter]).history
    assert _step_function_kind(vae.train_function) == "one step"
    assert seen == [0, 1, 2, 3, 4] * 2 and len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    state = [variable.numpy() for variable in vae.variables]  # with the sampler's seed: the same z twice
    mine = vae.evaluate(data, verbose=0, return_dict=True)
    assert _step_function_kind(vae.test_function) == "one step"
    keras.Model.make_test_function(vae, force=True)
    for variable, value in zip(vae.variables, state):
        variable.assign(value)
    theirs = vae.evaluate(data, verbose=0, return_dict=True)
    assert _step_function_kind(vae.test_function) == "keras"
    assert mine == pytest.approx(theirs, rel=1e-6)
