"""The benchmark harness: its FLOP counter against hand counts, the measured matmul peak,
and one tiny run end to end in a fresh process, as a user would start it."""

import json
import math
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import common  # noqa: E402
import gan_study  # noqa: E402
import harness  # noqa: E402


def _trained(model, x, y):
    """The model compiled (SGD, MSE) and fit one step, so its optimizer is built."""
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    return model


def test_flops_of_a_dense_train_step_match_a_hand_count():
    batch = 8
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(3, activation="relu")(inputs)))
    x, y = np.zeros((batch, 4), np.float32), np.zeros((batch, 2), np.float32)
    _trained(model, x, y)
    spec = (tf.TensorSpec((None, 4)), tf.TensorSpec((None, 2)))
    flops = common.train_step_flops(model, spec, batch)["by_type"]
    # MatMul: 2 x MACs. Forward 4->3 and 3->2; backward: both weight gradients and the
    # gradient into the hidden layer; the gradient into the input images is not computed.
    forward = 2 * batch * 4 * 3 + 2 * batch * 3 * 2
    backward = 2 * batch * 3 * 2 + 2 * batch * 2 * 3 + 2 * batch * 4 * 3
    assert flops["MatMul"] == forward + backward == 672


def test_flops_of_a_conv_train_step_count_the_backward_convolutions():
    batch = 4
    inputs = keras.Input((6, 6, 2))
    h = keras.layers.Conv2D(3, 3, padding="valid")(inputs)  # 4x4x3
    h = keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same")(h)  # 8x8x2
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(h)))
    _trained(model, np.zeros((batch, 6, 6, 2), np.float32), np.zeros((batch, 1), np.float32))
    spec = (tf.TensorSpec((None, 6, 6, 2)), tf.TensorSpec((None, 1)))
    flops = common.train_step_flops(model, spec, batch)["by_type"]
    conv = 2 * batch * (4 * 4 * 3) * (3 * 3 * 2)  # 2 x MACs of the 'valid' Conv2D
    transpose = 2 * batch * (4 * 4 * 3) * (3 * 3 * 2)  # each of its 4x4x3 inputs feeds a 3x3x2 patch
    # Conv2D: the first layer's forward and the transpose's input gradient; filter
    # gradients of both; Conv2DBackpropInput: the transpose's forward only (the first
    # layer's input gradient is dead and left out).
    assert flops["Conv2D"] == conv + transpose
    assert flops["Conv2DBackpropFilter"] == conv + transpose
    assert flops["Conv2DBackpropInput"] == transpose
    assert flops["MatMul"] == 3 * 2 * batch * 128
    total = common.train_step_flops(model, spec, batch)["total"]
    assert total == sum(flops.values()) and total > 2 * conv + 2 * transpose + flops["Conv2DBackpropInput"]


def test_matmul_peak_is_a_positive_finite_rate():
    peak = common.matmul_peak_gflops(size=256, repeats=2)
    assert math.isfinite(peak) and peak > 0.1
    with pytest.raises(ValueError, match="size and repeats"):
        common.matmul_peak_gflops(size=0)


def test_unknown_model_and_bad_flags_are_clear_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        harness.main(["--models", "dcgan", "vea"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'vea'" in err and all(name in err for name in harness.MODELS)
    with pytest.raises(SystemExit):
        harness.main(["--budget-seconds", "0"])
    assert "--budget-seconds must be > 0, got 0.0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        harness.main(["--dataset", "mnist", "--num-samples", "5000"])
    assert "more than the 2000 test images of mnist" in capsys.readouterr().err


def _numbers(value):
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_harness_runs_end_to_end(tmp_path, monkeypatch):
    """``python benchmarks/harness.py --quick ...``, in this process."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    harness.main(["--quick", "--models", "dense_autoencoder", "dcgan", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "harness.json").read_text())
    assert result["header"].startswith("20") and "Command: python benchmarks/harness.py --quick" in result["header"]
    assert result["matmul_peak"]["gflop_per_s"] > 0 and result["dataset"] == "fashion_mnist"
    assert [r["model"] for r in result["models"]] == ["dense_autoencoder", "dcgan"]
    for r in result["models"]:
        assert {"images_per_s", "train_mflop_per_image", "gflop_per_s", "percent_of_peak", "train_seconds",
                "images_seen", "points", "final", "protocol"} <= set(r)
        assert r["images_per_s"] > 0 and r["train_seconds"] >= 3.0 and len(r["points"]) >= 1
        assert all(math.isfinite(n) for n in _numbers(r))
    autoencoder, gan = result["models"]
    assert 0.0 < autoencoder["final"]["test_loss"] < 0.7
    # 784-32-784: MatMuls 2 x 784 x 32 x (2 forward + 2 weight gradients + 1 into the code) = 0.25 MFLOP,
    # the rest element-wise (sigmoid, loss, Adam).
    assert autoencoder["train_mflop_per_image"] == pytest.approx(0.27, abs=0.01)
    assert {"fid", "kid", "classifier_score", "classes_covered"} <= set(gan["final"]) and gan["final"]["fid"] > 0
    table = (tmp_path / "harness.md").read_text()
    assert "| dcgan |" in table and "not InceptionV3" in table
    assert (tmp_path / "harness.png").stat().st_size > 10000


def test_gan_study_scores_at_the_step_counts_of_its_measured_rate(tmp_path, monkeypatch):
    """``python benchmarks/gan_study.py --quick``: a rate measured first, then a run whose
    points are the step counts that rate gives for the time points, in fresh processes."""
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    with pytest.raises(SystemExit, match="no measured rate for dcgan radford"):
        gan_study.main(["--quick", "--one", "--model", "dcgan", "--configs", "radford", "--out", str(tmp_path)])
    common = ["--quick", "--model", "dcgan", "--configs", "radford", "sn_r1_ema", "--out", str(tmp_path)]
    gan_study.main([*common, "--measure-rates"])
    gan_study.main(common)
    rates = {r["config"]: r for r in map(json.loads, (tmp_path / "gan_study_rates.jsonl").read_text().splitlines())}
    runs = [json.loads(line) for line in (tmp_path / "gan_study_runs.jsonl").read_text().splitlines()]
    assert [r["config"] for r in runs] == ["radford", "sn_r1_ema"] and set(rates) == {"radford", "sn_r1_ema"}
    for run in runs:
        rate, batch = rates[run["config"]]["images_per_s"], run["settings"]["batch_size"]
        assert run["images_per_s"] == rate and run["budget_seconds"] == 4.0 and len(run["points"]) == 2
        for point, seconds in zip(run["points"], (2.0, 4.0)):
            assert point["steps"] == max(1, round(seconds * rate / batch))
            assert point["train_seconds"] == pytest.approx(point["steps"] * batch / rate, abs=0.05)
            assert point["fid"] > 0 and 1 <= point["classes_covered"] <= 10
        grids = sorted((tmp_path / "gan_study" / "dcgan" / f"{run['config']}_holdout_seed0").glob("t*.png"))
        assert len(grids) == 2
    assert runs[1]["settings"] == {**gan_study.BASES["dcgan"], **gan_study.CANDIDATES["dcgan"]["sn_r1_ema"]}
    assert runs[1]["settings"]["spectral_norm"] and runs[0]["settings"]["spectral_norm"] is False
    # Rates are kept per version of GAN.train_step; a line without the key is version 1.
    assert all(r["train_step"] == gan_study.TRAIN_STEP == 1 for r in [*runs, *rates.values()])
    measured = rates["radford"]["images_per_s"]
    keyless = {k: v for k, v in rates["radford"].items() if k != "train_step"} | {"images_per_s": 3 * measured}
    with open(tmp_path / "gan_study_rates.jsonl", "a") as f:
        for row in (keyless, rates["radford"] | {"images_per_s": 1.0, "train_step": 2}):
            f.write(json.dumps(row) + "\n")
    assert gan_study.rate_of(tmp_path, "dcgan", "radford", quick=True) == pytest.approx(2 * measured)  # median
    assert gan_study.rate_of(tmp_path, "dcgan", "radford", quick=True, train_step=2) == 1.0


def test_throughput_table_pairs_each_fit_round_with_the_loop_round_beside_it(tmp_path, capsys):
    """fit/loop from the medians, and round by round: each fit round over the loop round
    that ran next to it (a hand computation)."""
    results = {"GAN.fit": {"images_per_s": 100, "rounds_images_per_s": [90, 110, 100], "cpu_ms_per_image": 1.0},
               "hand-written tf.function loop": {"images_per_s": 100, "rounds_images_per_s": [100, 100, 125],
                                                 "cpu_ms_per_image": 1.1}}
    ratio = common.write_throughput(tmp_path, "t", "head", "protocol", results, "GAN.fit")
    assert ratio == 1.0
    assert json.loads((tmp_path / "t.json").read_text())["fit_over_loop_per_round"] == [0.9, 1.1, 0.8]
    assert ("median 0.90, range 0.80..1.10, fit at least as fast in 1 of 3 rounds"
            in (tmp_path / "t.md").read_text())


def test_gan_throughput_runs_its_five_variants_end_to_end(tmp_path, capsys):
    """``python benchmarks/gan_throughput.py --quick --filters 2 --batch-size 8``, in this
    process: every variant timed, the command and the resolved precision in the header."""
    import gan_throughput

    gan_throughput.main(["--quick", "--filters", "2", "--batch-size", "8", "--out", str(tmp_path)])
    result = json.loads((tmp_path / "gan_throughput_filters2.json").read_text())
    assert "Command: python benchmarks/gan_throughput.py --quick --filters 2" in result["header"]
    assert "filters 2" in result["protocol"] and "precision auto (" in result["protocol"]
    assert len(result["results"]) == 5 and all(r["images_per_s"] > 0 for r in result["results"].values())
    assert len(result["fit_over_loop_per_round"]) == 1
