import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from test_cli import run_cli  # the keras-gen command run in this process

from keras_gen import build_conditional_gan, build_gan, classifiers, datasets, metrics
from keras_gen.callbacks import SampleQuality
from keras_gen.classifiers import SHIPPED_CLASSIFIER_DIR, domain_classifier, extractor_for, train_domain_classifier
from keras_gen.metrics import (
    classifier_score,
    conditional_accuracy,
    evaluate_samples,
    fid,
    frechet_distance,
    kid,
    mode_coverage,
    precision_recall,
)


@pytest.fixture(scope="module")
def fashion_train():
    """The first 3,000 real Fashion-MNIST train images (uint8)."""
    x, y = datasets.load_idx_split(datasets.DEBIAN_FASHION_MNIST_DIR, "train")
    return x[:3000], y[:3000]


def blur(images):
    """A 3x3 box blur of uint8 images, as float [0, 1]."""
    return tf.nn.avg_pool2d(images.astype(np.float32) / 255.0, 3, 1, "SAME").numpy()


# ------------------------------------------------------------------------- closed forms


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=3), rng.normal(size=3)
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.0])  # diagonal, one variance 0
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    # Non-commuting 2x2: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for M = s1 s2 (positive eigenvalues).
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[1.0, -0.4], [-0.4, 3.0]])
    product = s1 @ s2
    trace_sqrt = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    expected = np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(expected, rel=1e-10)
    # A rank-deficient covariance against itself: exactly 0 after clipping round-off, a real float.
    x = rng.normal(size=(5, 40))
    singular = np.cov(x, rowvar=False)
    value = frechet_distance(x.mean(0), singular, x.mean(0), singular)
    assert isinstance(value, float) and 0.0 <= value < 1e-8
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros(2), np.full((2, 2), np.nan), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"\(d, d\)"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(3))


def test_fid_of_gaussian_samples_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    s1, s2 = np.array([[2.0, 0.9], [0.9, 1.0]]), np.array([[1.0, -0.4], [-0.4, 3.0]])
    mu2 = np.array([1.0, -2.0])
    x1 = rng.multivariate_normal(np.zeros(2), s1, size=40_000)
    x2 = rng.multivariate_normal(np.zeros(2), s1, size=40_000)
    x3 = rng.multivariate_normal(mu2, s2, size=40_000)
    assert metrics.fid_from_features(x1, x2) < 0.005  # two draws of one distribution
    closed = frechet_distance(np.zeros(2), s1, mu2, s2)
    assert metrics.fid_from_features(x1, x3) == pytest.approx(closed, rel=0.02)


def test_kid_is_unbiased_where_the_plain_mmd_is_not():
    rng = np.random.default_rng(2)
    unbiased, biased = [], []
    for _ in range(300):  # many small independent draws of one distribution
        x, y = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
        unbiased.append(metrics.kid_from_features(x, y, num_subsets=1, subset_size=20, seed=0)[0])
        k = lambda a, b: (a @ b.T / 8 + 1.0) ** 3  # noqa: E731
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    standard_error = np.std(unbiased) / np.sqrt(len(unbiased))
    assert abs(np.mean(unbiased)) < 3 * standard_error
    assert np.mean(biased) > 10 * standard_error  # the V-statistic is biased upwards


def test_classifier_score_by_hand():
    confident = np.full((100, 10), -20.0)
    confident[np.arange(100), np.arange(100) % 10] = 20.0  # sure of itself, classes balanced
    assert metrics.inception_score(confident, 1, 0)[0] == pytest.approx(10.0, rel=1e-6)
    assert metrics.inception_score(np.zeros((100, 10)), 2, 0) == (pytest.approx(1.0), pytest.approx(0.0))
    one_class = np.full((100, 10), -20.0)
    one_class[:, 3] = 20.0
    assert metrics.inception_score(one_class, 10, 0)[0] == pytest.approx(1.0)


def test_precision_recall_by_hand():
    real = np.arange(10, dtype=np.float64)[:, None]  # 0..9 on a line: k=1 radii are all 1
    generated = np.array([[0.5], [100.0]])  # one inside, one far away: each one's k=1 radius is 99.5
    assert metrics.precision_recall_from_features(real, generated, k=1) == (0.5, 1.0)
    generated = np.array([[0.0], [0.1], [0.2]])  # a collapsed generator at the end of the line
    precision, recall = metrics.precision_recall_from_features(real, generated, k=1)
    assert precision == 1.0 and recall == 0.1  # only the real point 0 lies within 0.1 of them


# ---------------------------------------------------------------- the shipped classifiers


def test_shipped_classifiers_reach_their_stated_accuracy(fashion_test, mnist_bundled):
    for name, (x, y), stated_images in [("fashion_mnist", fashion_test, 60000),
                                        ("mnist", (mnist_bundled[0][8000:], mnist_bundled[1][8000:]), 8000)]:
        weights = SHIPPED_CLASSIFIER_DIR / f"{name}.weights.h5"
        info = json.loads((SHIPPED_CLASSIFIER_DIR / f"{name}.json").read_text())
        assert weights.stat().st_size < 1_500_000
        assert info["train_images"] == stated_images and info["test_images"] == len(x)
        _, logits = extractor_for(name)(x)
        accuracy = np.mean(logits.argmax(1) == y)
        assert accuracy == pytest.approx(info["test_accuracy"], abs=1e-4)
        assert accuracy >= (0.92 if name == "fashion_mnist" else 0.97)
    assert "bundled MNIST test split, images 0-7999" in info["train_split"]


def test_classifier_training_is_seeded_and_cached_on_first_use(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(classifiers, "SHIPPED_CLASSIFIER_DIR", tmp_path / "none")
    monkeypatch.setattr(classifiers, "classifier_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(classifiers, "CLASSIFIER_RECIPE", {**classifiers.CLASSIFIER_RECIPE, "epochs": 1})
    model, info = domain_classifier("mnist")
    assert "training one on its train split now" in capsys.readouterr().out
    assert (tmp_path / "cache" / "mnist.weights.h5").is_file() and info["recipe"]["epochs"] == 1
    first, second = (train_domain_classifier("mnist", epochs=1, limit=512, verbose=0)[0] for _ in range(2))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)  # the seed fixes weights, dropout and the shuffle order
    cached, cached_info = domain_classifier("mnist")
    assert "training" not in capsys.readouterr().out and cached_info["test_accuracy"] == info["test_accuracy"]
    np.testing.assert_array_equal(cached.get_weights()[0], model.get_weights()[0])
    with pytest.raises(FileNotFoundError, match="recipes/domain_classifier.py"):
        domain_classifier("fashion_mnist", train=False)


# ------------------------------------------------------------------------- on real data


def test_fid_and_kid_order_real_data(fashion_train, fashion_test):
    train, test = fashion_train[0][:1000], fashion_test[0][:1000]
    noise = np.random.default_rng(0).random(train.shape, dtype=np.float32)
    same = fid(train, test, dataset="fashion_mnist")["fid"]
    scores = {"noise": fid(train, noise, dataset="fashion_mnist")["fid"],
              "blurred": fid(train, blur(fashion_train[0][1000:2000]), dataset="fashion_mnist")["fid"]}
    assert same < 5 and all(value > 10 * same for value in scores.values()), (same, scores)
    halves = kid(test[:300], fashion_test[0][300:600], dataset="fashion_mnist", subset_size=100, seed=0)
    assert abs(halves["kid"]) < 3 * halves["kid_std"], halves
    far = kid(train[:300], noise[:300], dataset="fashion_mnist", subset_size=100)
    assert far["kid"] > 10 * halves["kid_std"] and far["kid"] > 5 * far["kid_std"], (halves, far)
    assert far["protocol"]["kid_subset_size"] == 100 and far["protocol"]["num_real"] == 300


def test_classifier_score_of_real_data_and_one_class(fashion_test):
    info = json.loads((SHIPPED_CLASSIFIER_DIR / "fashion_mnist.json").read_text())
    result = classifier_score(fashion_test[0], dataset="fashion_mnist")
    assert result["classifier_score"] == pytest.approx(info["test_classifier_score"], rel=1e-3)
    assert result["protocol"]["num_images"] == 10000 and result["protocol"]["extractor_test_accuracy"] >= 0.92
    trousers = fashion_test[0][fashion_test[1] == 1]
    assert 1.0 <= classifier_score(trousers, dataset="fashion_mnist")["classifier_score"] < 1.2


def test_mode_coverage_flags_a_one_class_generator(fashion_test):
    x, y = fashion_test
    full = mode_coverage(x[:2000], x[2000:4000], dataset="fashion_mnist")
    assert full["classes_covered"] == full["num_classes"] == 10 and full["missing_classes"] == []
    assert full["kl_real_generated"] < 0.01 and full["kl_generated_real"] < 0.01
    collapsed = mode_coverage(x[:2000], x[2000:][y[2000:] == 7][:500], dataset="fashion_mnist")  # sneakers only
    assert collapsed["classes_covered"] == 1 and len(collapsed["missing_classes"]) == 9
    assert 7 not in collapsed["missing_classes"] and collapsed["generated_histogram"][7] > 0.9
    assert collapsed["kl_real_generated"] > 1.5 and collapsed["kl_generated_real"] > 1.5
    # The diversity score exp(-KL(Pr(y) || Pr*(y))), by hand from the two histograms (one pseudo-count each).
    for scores, generated in ((full, 2000), (collapsed, 500)):
        q = (np.array(scores["generated_histogram"]) * generated + 1) / (generated + 10)
        p = (np.array(scores["real_histogram"]) * 2000 + 1) / (2000 + 10)
        assert scores["diversity_score"] == pytest.approx(np.exp(-np.sum(q * np.log(q / p))), rel=1e-3)
    assert full["diversity_score"] > 0.99 and collapsed["diversity_score"] < 0.25
    pr = precision_recall(x[:1000], x[2000:][y[2000:] == 7][:300], dataset="fashion_mnist")
    assert pr["precision"] > 0.8 and pr["recall"] < 0.3, pr


def test_conditional_accuracy_of_labelled_images(mnist_bundled):
    x, y = mnist_bundled[0][8000:], mnist_bundled[1][8000:]
    info = json.loads((SHIPPED_CLASSIFIER_DIR / "mnist.json").read_text())
    assert conditional_accuracy((x, y), dataset="mnist")["conditional_accuracy"] == pytest.approx(
        info["test_accuracy"], abs=1e-4)
    wrong = conditional_accuracy((x, (y + 1) % 10), dataset="mnist")
    assert wrong["conditional_accuracy"] < 0.05 and len(wrong["per_class_accuracy"]) == 10


def test_evaluate_samples_of_models_records_the_protocol(mnist_bundled):
    real = mnist_bundled[0][8000:8400]
    gan = build_gan(input_shape=(28, 28, 1), latent_dim=4, hidden_units=(16,), seed=0)
    scores = evaluate_samples(real, gan, dataset="mnist", num_samples=200, seed=3, num_subsets=10)
    assert {"fid", "kid", "kid_std", "classifier_score", "precision", "recall", "classes_covered",
            "kl_real_generated", "kl_generated_real", "diversity_score", "real_classifier_score"} <= set(scores)
    protocol = scores["protocol"]
    assert protocol["num_real"] == protocol["num_generated"] == 200 and protocol["seed"] == 3
    assert protocol["extractor"] == "keras_gen domain classifier (mnist)" and protocol["extractor_train_images"] == 8000
    assert scores["fid"] > 100 and scores["real_classifier_score"] > 6  # 10 splits of 20 images
    assert all(np.isfinite(v) for v in scores.values() if isinstance(v, float))
    assert evaluate_samples(real, gan, dataset="mnist", num_samples=200, seed=3, num_subsets=10)["fid"] == scores["fid"]
    cgan = build_conditional_gan(latent_dim=4, filters=4, seed=0)
    scores = evaluate_samples(real, cgan, dataset="mnist", num_samples=100, num_subsets=2)
    assert 0.0 <= scores["conditional_accuracy"] <= 1.0 and scores["protocol"]["generated"].startswith("ConditionalGAN")


# ---------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors(mnist_bundled):
    real = mnist_bundled[0][:300]
    unit = real.astype(np.float32) / 255.0
    with pytest.raises(ValueError, match=r"generated have shape \(32, 32, 1\).*takes \(28, 28, 1\)"):
        fid(real, np.zeros((300, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match=r"generated: float images must be in \[0, 1\], got values in \[-1"):
        fid(real, unit * 2 - 1)  # a tanh generator's raw output
    with pytest.raises(ValueError, match=r"real: float images must be in \[0, 1\].*\[0, 255\]"):
        fid(real.astype(np.float32), unit)
    nan = unit.copy()
    nan[5, 3, 3, 0] = np.nan
    with pytest.raises(ValueError, match="generated: image array holds 1 NaN"):
        kid(real, nan)
    with pytest.raises(ValueError, match="too few samples: generated holds 300 images but num_samples=500"):
        fid(mnist_bundled[0][:1000], unit, num_samples=500)
    with pytest.raises(ValueError, match="too few samples for KID with subset_size=400: real has 300"):
        kid(real, unit, subset_size=400)
    with pytest.raises(ValueError, match="too few samples for FID"):
        fid(real[:1], unit[:1])
    with pytest.raises(ValueError, match="too few samples for k-NN manifolds with k=3: generated has 3"):
        precision_recall(real, unit[:3])
    with pytest.raises(ValueError, match="too few samples for a classifier score over 10 splits"):
        classifier_score(unit[:10])
    with pytest.raises(ValueError, match="pass num_samples="):
        classifier_score(build_gan(latent_dim=4, hidden_units=(8,), seed=0))
    with pytest.raises(TypeError, match="got list"):
        fid(real, [1, 2, 3])
    with pytest.raises(ValueError, match="num_subsets must be an integer >= 1, got 0"):
        kid(real, unit, num_subsets=0)
    with pytest.raises(ValueError, match=r"min_share must be a number in \(0, 1\], got 2"):
        mode_coverage(real, unit, min_share=2)
    with pytest.raises(ValueError, match=r"labels must be 300 class ids in \[0, 9\]"):
        conditional_accuracy((unit, np.full(300, 10)))


# ----------------------------------------------------------------------------- callback


def test_sample_quality_callback_logs_and_keeps_the_best(tmp_path, mnist_bundled):
    keras.utils.set_random_seed(0)
    real = mnist_bundled[0][8000:8300]
    train = datasets.load(mnist_bundled[0][:512], batch_size=64, value_range=(-1, 1), seed=0)
    gan = build_gan(input_shape=(28, 28, 1), latent_dim=4, hidden_units=(16,), seed=0)
    quality = SampleQuality(real, metric="fid", dataset="mnist", num_samples=300, seed=5,
                            checkpoint_path=tmp_path / "best.keras", log_dir=tmp_path / "logs", verbose=0)
    history = gan.fit(train, epochs=3, verbose=0, callbacks=[quality, keras.callbacks.TensorBoard(tmp_path / "tb")])
    values = history.history["fid"]
    assert [v for _, v in quality.history] == values and len(values) == 3
    assert quality.best == min(values) and quality.best_epoch == int(np.argmin(values))
    best = keras.models.load_model(tmp_path / "best.keras")
    np.testing.assert_allclose(
        metrics.fid_from_features(quality._real[0], quality._extractor(best.sample(300, seed=5))[0]),
        quality.best, rtol=1e-6)
    events = [e for f in (tmp_path / "logs").iterdir() for e in tf.compat.v1.train.summary_iterator(str(f))]
    tags = [v.tag for e in events for v in e.summary.value]
    assert tags.count("sample_quality/fid") == 3
    scored = SampleQuality("test", metric="classifier_score", every=2, num_samples=100, verbose=0)
    history = gan.fit(train, epochs=2, verbose=0, callbacks=[scored])
    assert len(history.history["classifier_score"]) == 1 and scored.best_epoch == 1
    config = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(scored)).get_config()
    assert config == scored.get_config() and config["real"] == "test" and config["every"] == 2
    with pytest.raises(ValueError, match="metric must be one of"):
        SampleQuality(real, metric="inception")
    with pytest.raises(ValueError, match="checkpoint_path must end in '.keras'"):
        SampleQuality(real, checkpoint_path=tmp_path / "best.h5")


def test_domain_classifier_recipe_writes_weights_and_protocol(tmp_path, monkeypatch, capsys):
    """`keras-gen train domain_classifier`, in this process."""
    monkeypatch.setenv("KERAS_GEN_OFFLINE", "1")
    code, out, err = run_cli(["train", "domain_classifier", "--epochs", "1", "--limit", "256", "--out", tmp_path],
                             capsys)
    assert code == 0, err[-3000:]
    line = next(printed for printed in out.splitlines() if printed.startswith("test accuracy: "))
    assert ("2000 images of mnist test: bundled MNIST test split, images 8000-9999, as full MNIST is not available; "
            "trained on 256 images of train: bundled MNIST test split, images 0-7999, as full MNIST is not available, "
            "1 epochs, batch 128, seed 0") in line
    info = json.loads((tmp_path / "mnist.json").read_text())
    assert info["test_accuracy"] == float(line.split()[2]) and info["recipe"]["limit"] == 256
    assert 0 < (tmp_path / "mnist.weights.h5").stat().st_size < 1_500_000
    assert (tmp_path / "misclassified.png").stat().st_size > 5000
