"""Evaluation numbers of keras_gen: sample quality and likelihoods.

Sample quality is measured in the feature space of a small **domain classifier**
(``keras_gen.classifiers``), a CNN trained on the dataset's own train split: ImageNet's
InceptionV3 is a poor fit for 28x28 grayscale and its weights cannot be downloaded
everywhere. Weights for ``fashion_mnist`` and the bundled ``mnist`` ship with keras_gen;
other datasets get a classifier trained on first use. Numbers from this extractor are
comparable with each other (same extractor, same sample counts), **not** with FID/IS
values that papers report with InceptionV3. Where keras.applications' ImageNet
InceptionV3 weights are present (or can be downloaded), ``extractor="inception"`` gives
the standard protocol's features and Inception Score instead (images resized to 299x299,
gray tiled to 3 channels; see ``keras_gen.classifiers.InceptionExtractor``).

Every score of images takes them in [0, 1] (float) or [0, 255] (uint8), as numpy arrays,
batched ``tf.data`` datasets (of images or ``(images, labels)``) or a keras_gen generative
model (a ``keras_gen.base.GenerativeModel``: its ``sample(num, seed)``), and returns a dict
holding the score(s) and a ``"protocol"``: extractor, its test accuracy, sample counts,
splits and seed. Beneath them, the metric math on arrays of features and logits is public
too: ``frechet_distance``, ``fid_from_features``, ``kid_from_features``,
``inception_score``, ``class_coverage``, ``precision_recall_from_features``,
``squared_distances``, ``mean_pairwise_distance``.

Likelihoods are reported in nats per image and in bits per dimension:
bits/dim = nats / (number of dimensions * ln 2).

Example:
    >>> real = datasets.load_arrays("fashion_mnist", split="test", labels=False)[0]
    >>> evaluate_samples(real, gan, dataset="fashion_mnist", num_samples=5000, seed=0)
    {'fid': ..., 'kid': ..., 'kid_std': ..., 'classifier_score': ..., ..., 'protocol': {...}}
"""

import math

import numpy as np
import tensorflow as tf

from keras_gen import datasets
from keras_gen.base import GenerativeModel
from keras_gen.classifiers import extractor_for
from keras_gen.errors import UnsupportedModelError
from keras_gen.utils import bits_per_dim, check_positive_int, unit_images

__all__ = [
    "bits_per_dim", "class_coverage", "classifier_score", "collect_images", "conditional_accuracy",
    "evaluate_samples", "fid", "fid_from_features", "frechet_distance", "inception_score", "kid",
    "kid_from_features", "mean_pairwise_distance", "mode_coverage", "precision_recall",
    "precision_recall_from_features", "squared_distances",
]


# ------------------------------------------------------------------------------ inputs


def _describe(source):
    if isinstance(source, str):
        return f"split {source!r}"
    if isinstance(source, GenerativeModel):
        return f"{type(source).__name__} '{source.name}'.sample"
    return "tf.data.Dataset" if isinstance(source, tf.data.Dataset) else f"{type(source).__name__} of images"


def collect_images(source, num, seed, what, dataset=None, offset=0):
    """Images of ``source`` as validated float32 [0, 1] arrays, and labels (or None).

    ``source``: an image array; an ``(images, labels)`` tuple; a finite batched
    ``tf.data.Dataset`` of images or ``(images, labels)``; a split name (``"train"``,
    ``"test"``) of ``dataset``; or a ``GenerativeModel`` (``num`` needed),
    asked for ``num`` images with ``seed``. Of a larger set, a random subset of ``num``
    images is kept, drawn with ``seed + offset``; fewer than ``num`` images is an error.
    """
    if num is not None:
        check_positive_int("num_samples", num)
    labels = None
    if isinstance(source, tf.data.Dataset):
        data = datasets.to_numpy(source)
        images, labels = data if isinstance(data, tuple) else (data, None)
    elif isinstance(source, GenerativeModel):
        if num is None:
            raise ValueError(f"{what} is a model: pass num_samples=, the number of images to draw from it.")
        images = source.sample(num, seed=seed)
    elif isinstance(source, str):
        if not isinstance(dataset, str):
            raise ValueError(f"{what}={source!r} names a split, which needs dataset= as a dataset name.")
        images, labels, _ = datasets.load_arrays(dataset, split=source)
    elif isinstance(source, tuple) and len(source) == 2:
        images, labels = source
    elif hasattr(source, "shape"):
        images = source
    else:
        raise TypeError(f"{what} must be an image array, an (images, labels) tuple, a tf.data.Dataset, a split name "
                        f"or a keras_gen generative model; got {type(source).__name__}.")
    images = unit_images(images, what)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"{what} has {len(labels)} labels for {len(images)} images.")
    if num is not None and len(images) < num:
        raise ValueError(f"too few samples: {what} holds {len(images)} images but num_samples={num}.")
    if num is not None and len(images) > num:
        keep = np.sort(np.random.default_rng(seed + offset).choice(len(images), num, replace=False))
        images, labels = images[keep], (None if labels is None else labels[keep])
    return images, labels


def _featurize(source, extractor, num, seed, what, dataset=None, offset=0):
    """``(features, logits, description)`` of ``source``'s images."""
    images, _ = collect_images(source, num, seed, what, dataset, offset)
    features, logits = extractor(images, what)
    return features, logits, {"source": _describe(source), "num": len(images)}


def _pair(real, generated, dataset, num_samples, seed, extractor):
    """Features of both sets and the protocol. A model as ``generated`` is asked for
    ``num_samples`` images, by default as many as ``real`` has."""
    extractor = extractor_for(dataset, extractor)
    name = dataset if isinstance(dataset, str) else None
    real_f, real_l, real_d = _featurize(real, extractor, num_samples, seed, "real", name)
    draws = num_samples or (real_d["num"] if isinstance(generated, GenerativeModel) else None)
    gen_f, gen_l, gen_d = _featurize(generated, extractor, draws, seed, "generated", name, offset=1)
    protocol = {**extractor.protocol(), "dataset": name, "num_real": real_d["num"], "num_generated": gen_d["num"],
                "real": real_d["source"], "generated": gen_d["source"], "seed": seed}
    return (real_f, real_l), (gen_f, gen_l), protocol


def _require_dataset_classes(extractor, what):
    if not extractor.dataset_classes:
        raise ValueError(f"{what} needs logits over the dataset's classes; the extractor '{extractor.name}' predicts "
                         f"other classes (ImageNet's). Use extractor='domain'.")


def _check_settings(k=1, num_subsets=1, subset_size=None, num_splits=1, min_share=0.5):
    """Checks the estimators' settings before any image is read."""
    for name, value in (("k", k), ("num_subsets", num_subsets), ("num_splits", num_splits)):
        check_positive_int(name, value)
    if subset_size is not None:
        check_positive_int("subset_size", subset_size)
    if isinstance(min_share, bool) or not isinstance(min_share, (int, float)) or not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be a number in (0, 1], got {min_share!r}.")


def _check_count(what, count, needed, estimate):
    if count < needed:
        raise ValueError(f"too few samples for {estimate}: {what} has {count}, at least {needed} are needed.")


# ----------------------------------------------------------------- scores on features


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Squared Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2):
    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``.

    ``tr((sigma1 sigma2)^(1/2))`` is computed as ``tr((s1^(1/2) sigma2 s1^(1/2))^(1/2))``
    from eigendecompositions of symmetric matrices, so the result is real; round-off
    below zero is clipped to 0.

    Args:
        mu1, mu2: mean vectors ``(d,)``.
        sigma1, sigma2: covariance matrices ``(d, d)``, symmetric positive semi-definite.

    Returns:
        A float >= 0.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.ndim != 1 or mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"expected means (d,) and covariances (d, d) of one d, got {mu1.shape}, {sigma1.shape}, "
                         f"{mu2.shape}, {sigma2.shape}.")
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(value).all():
            raise ValueError(f"{name} holds NaN or inf values.")
    root1 = _sqrt_psd(sigma1)
    cross = root1 @ sigma2 @ root1
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((cross + cross.T) / 2.0), 0.0, None)).sum())
    distance = float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)
    return max(distance, 0.0)


def fid_from_features(real, generated):
    """FID of two feature arrays ``(n, d)``: the Frechet distance of Gaussians fitted to them."""
    _check_count("real", len(real), 2, "FID (a covariance)")
    _check_count("generated", len(generated), 2, "FID (a covariance)")
    return frechet_distance(real.mean(0), np.cov(real, rowvar=False), generated.mean(0),
                            np.cov(generated, rowvar=False))


def kid_from_features(real, generated, num_subsets=100, subset_size=None, seed=0):
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 over seeded subsets:
    (mean, std, subset size, subsets drawn)."""
    size = min(1000, len(real), len(generated)) if subset_size is None else subset_size
    _check_count("a KID subset", size, 2, "KID (the unbiased MMD needs 2 samples per subset)")
    _check_count("real", len(real), size, f"KID with subset_size={size}")
    _check_count("generated", len(generated), size, f"KID with subset_size={size}")
    if size == len(real) == len(generated):
        num_subsets = 1  # every subset would be the whole of both sets
    rng, dims, values = np.random.default_rng(seed), real.shape[1], []
    for _ in range(num_subsets):
        x = real[rng.choice(len(real), size, replace=False)]
        y = generated[rng.choice(len(generated), size, replace=False)]
        k_xx, k_yy, k_xy = ((a @ b.T / dims + 1.0) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (size * (size - 1))
        values.append(within - 2.0 * k_xy.mean())
    return float(np.mean(values)), float(np.std(values)), size, num_subsets


def inception_score(logits, num_splits=10, seed=0):
    """The Inception Score formula (Salimans et al. 2016) on any classifier's logits
    ``(n, classes)``: exp(E_x KL(p(y|x) || p(y))) over ``num_splits`` seeded disjoint
    splits. Returns ``(mean, std)`` over the splits."""
    _check_count("images", len(logits), 2 * num_splits, f"a classifier score over {num_splits} splits (2 per split)")
    logits = np.asarray(logits, np.float64)
    order = np.random.default_rng(seed).permutation(len(logits))
    log_p = logits - logits.max(1, keepdims=True)
    log_p = log_p - np.log(np.exp(log_p).sum(1, keepdims=True))
    scores = []
    for part in np.array_split(order, num_splits):
        log_marginal = np.log(np.exp(log_p[part]).mean(0))
        scores.append(math.exp(float(np.mean(np.sum(np.exp(log_p[part]) * (log_p[part] - log_marginal), 1)))))
    return float(np.mean(scores)), float(np.std(scores))


def class_coverage(real_logits, generated_logits, min_share=0.5):
    """Class histograms of the classifier's predictions, covered classes, both KLs and
    the diversity score exp(-KL(Pr(y) || Pr*(y))) of the generated class distribution
    Pr(y) against the real one Pr*(y): 1 when the classes come as often as in the real
    data, toward 0 as they drift apart (one pseudo-count per class keeps it positive)."""
    classes = real_logits.shape[1]
    real_counts = np.bincount(real_logits.argmax(1), minlength=classes)
    generated_counts = np.bincount(generated_logits.argmax(1), minlength=classes)
    real_share, generated_share = real_counts / real_counts.sum(), generated_counts / generated_counts.sum()
    present = real_share > 0
    covered = present & (generated_share >= min_share * real_share)
    p = (real_counts + 1.0) / (real_counts.sum() + classes)  # one pseudo-count per class: finite KLs
    q = (generated_counts + 1.0) / (generated_counts.sum() + classes)
    kl_generated_real = float(np.sum(q * np.log(q / p)))
    return {"classes_covered": int(covered.sum()), "num_classes": int(present.sum()),
            "missing_classes": [int(c) for c in np.flatnonzero(present & ~covered)],
            "kl_real_generated": float(np.sum(p * np.log(p / q))),
            "kl_generated_real": kl_generated_real, "diversity_score": math.exp(-kl_generated_real),
            "real_histogram": [round(float(s), 4) for s in real_share],
            "generated_histogram": [round(float(s), 4) for s in generated_share]}


def squared_distances(a, b):
    """Squared Euclidean distances ``(len(a), len(b))`` between the rows of two arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def mean_pairwise_distance(images):
    """Mean Euclidean distance between all pairs of distinct images (flattened)."""
    flat = np.asarray(images, np.float64).reshape(len(images), -1)
    if len(flat) < 2:
        raise ValueError(f"need at least 2 images for a pairwise distance, got {len(flat)}.")
    return float(np.sqrt(squared_distances(flat, flat)).sum() / (len(flat) * (len(flat) - 1)))


def _knn_radii(points, k, batch=1000):
    """Squared distance of each point to its k-th nearest other point."""
    return np.concatenate([np.partition(squared_distances(points[i:i + batch], points), k, axis=1)[:, k]
                           for i in range(0, len(points), batch)])


def _inside_manifold(queries, points, radii, batch=1000):
    """Share of queries within the k-NN ball of at least one point."""
    inside = [np.any(squared_distances(queries[i:i + batch], points) <= radii[None, :], axis=1)
              for i in range(0, len(queries), batch)]
    return float(np.mean(np.concatenate(inside)))


def precision_recall_from_features(real, generated, k=3):
    """Improved precision and recall of two feature arrays with k-NN manifolds."""
    _check_count("real", len(real), k + 1, f"k-NN manifolds with k={k}")
    _check_count("generated", len(generated), k + 1, f"k-NN manifolds with k={k}")
    precision = _inside_manifold(generated, real, _knn_radii(real, k))
    recall = _inside_manifold(real, generated, _knn_radii(generated, k))
    return precision, recall


# --------------------------------------------------------------------- public metrics


def fid(real, generated, dataset="mnist", num_samples=None, seed=0, extractor="domain"):
    """Frechet distance between Gaussians fitted to the domain classifier's features of
    real and generated images (Heusel et al. 2017, with the domain extractor).

    FID is biased upwards for small sample counts: compare values only at equal
    ``num_samples`` (the protocol records them).

    Args:
        real, generated: images in [0, 1] (or uint8): arrays, ``(images, labels)``,
            batched ``tf.data`` datasets, a split name of ``dataset``, or a model with
            ``.sample(num, seed)`` (then ``num_samples`` is needed).
        dataset: name of the dataset (its domain classifier extracts the features, and
            split names refer to it), or a ``FeatureExtractor``.
        num_samples: images per set (>= 2): a random subset of a larger set, drawn with
            ``seed`` (real) and ``seed + 1`` (generated); the number of draws from a
            model. Default: every image, and as many draws as ``real`` has images.
        seed: seed of the subsets and of the model's draws (``model.sample(n, seed)``).
        extractor: ``"domain"`` (default: the dataset's domain classifier),
            ``"inception"`` (ImageNet InceptionV3 when its weights are present, see
            ``keras_gen.classifiers.InceptionExtractor``) or a ``FeatureExtractor``.

    Returns:
        ``{"fid": float, "protocol": dict}``.

    Example:
        >>> fid("train", "test", dataset="fashion_mnist", num_samples=5000)["fid"]
    """
    real, generated, protocol = _pair(real, generated, dataset, num_samples, seed, extractor)
    return {"fid": fid_from_features(real[0], generated[0]), "protocol": protocol}


def kid(real, generated, dataset="mnist", num_samples=None, num_subsets=100, subset_size=None, seed=0,
        extractor="domain"):
    """Kernel Inception Distance (Binkowski et al. 2018) on domain-classifier features:
    the unbiased estimate of MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, averaged over
    ``num_subsets`` seeded random subsets. Unbiased, so it can be slightly negative and
    stays comparable across sample counts; usable with a few hundred images.

    Args:
        real, generated, dataset, num_samples, seed, extractor: see ``fid``.
        num_subsets: subsets drawn (>= 1).
        subset_size: images per subset from each set; default ``min(1000, n_real,
            n_generated)``. When it equals both set sizes, one "subset" (the whole of
            both sets) is scored and ``kid_std`` is 0.

    Returns:
        ``{"kid": mean, "kid_std": std over subsets, "protocol": dict}``.
    """
    _check_settings(num_subsets=num_subsets, subset_size=subset_size)
    real, generated, protocol = _pair(real, generated, dataset, num_samples, seed, extractor)
    mean, std, size, subsets = kid_from_features(real[0], generated[0], num_subsets, subset_size, seed)
    return {"kid": mean, "kid_std": std,
            "protocol": {**protocol, "kid_subsets": subsets, "kid_subset_size": size}}


def classifier_score(images, dataset="mnist", num_samples=None, num_splits=10, seed=0, extractor="domain"):
    """The Inception Score formula (Salimans et al. 2016) on the domain classifier:
    exp(E_x KL(p(y|x) || p(y))), computed on ``num_splits`` disjoint seeded splits.
    Between 1 (one class, or no confident prediction) and the number of classes. With
    ``extractor="inception"`` this is the Inception Score itself (1000 ImageNet classes).

    Args:
        images: see ``fid``'s ``generated``.
        dataset, num_samples, seed, extractor: see ``fid``.
        num_splits: splits (>= 1, each of >= 2 images); the usual 10 by default.

    Returns:
        ``{"classifier_score": mean, "classifier_score_std": std over splits, "protocol": dict}``.
    """
    _check_settings(num_splits=num_splits)
    extractor = extractor_for(dataset, extractor)
    _, logits, described = _featurize(images, extractor, num_samples, seed, "images",
                                       dataset if isinstance(dataset, str) else None)
    mean, std = inception_score(logits, num_splits, seed)
    protocol = {**extractor.protocol(), "images": described["source"], "num_images": described["num"],
                "num_splits": num_splits, "seed": seed}
    return {"classifier_score": mean, "classifier_score_std": std, "protocol": protocol}


def mode_coverage(real, generated, dataset="mnist", num_samples=None, min_share=0.5, seed=0, extractor="domain"):
    """Which classes a generator produces, as judged by the domain classifier.

    Both sets are labelled by the classifier's predictions (so its errors affect both
    alike). A class present among the real predictions is covered when its share of
    the generated images is at least ``min_share`` times its share of the real ones
    (by default: at least half as often as in the real data). The classifier's
    confusions count too: Fashion-MNIST test shirts alone, for instance, are 11% T-shirt
    and 7% pullover or coat to the shipped classifier, so they "cover" up to 4 classes;
    the KLs say how far the histograms are apart. They compare the class histograms in
    both directions, each smoothed with one pseudo-count per class so that they stay finite.

    Args:
        real, generated, dataset, num_samples, seed, extractor: see ``fid``.
        min_share: fraction of a class's real share that counts as covered, in (0, 1].

    Returns:
        ``{"classes_covered", "num_classes", "missing_classes", "kl_real_generated",
        "kl_generated_real", "diversity_score", "real_histogram", "generated_histogram",
        "protocol"}``; ``diversity_score`` is exp(-kl_generated_real), the lectures'
        exp(-KL(Pr(y) || Pr*(y))).
    """
    _check_settings(min_share=min_share)
    _require_dataset_classes(extractor_for(dataset, extractor), "mode_coverage")
    real, generated, protocol = _pair(real, generated, dataset, num_samples, seed, extractor)
    return {**class_coverage(real[1], generated[1], min_share), "protocol": {**protocol, "min_share": min_share}}


def precision_recall(real, generated, dataset="mnist", num_samples=None, k=3, seed=0, extractor="domain"):
    """Improved precision and recall (Kynkaanniemi et al. 2019) on domain features.

    Each set's manifold is the union of balls around its points reaching their k-th
    nearest neighbour. Precision: share of generated images inside the real manifold
    (fidelity). Recall: share of real images inside the generated manifold (diversity).

    Args:
        real, generated, dataset, num_samples, seed, extractor: see ``fid``.
        k: neighbour defining the radii (>= 1; each set needs more than k images).

    Returns:
        ``{"precision": float, "recall": float, "protocol": dict}``.
    """
    _check_settings(k=k)
    real, generated, protocol = _pair(real, generated, dataset, num_samples, seed, extractor)
    precision, recall = precision_recall_from_features(real[0], generated[0], k)
    return {"precision": precision, "recall": recall, "protocol": {**protocol, "k": k}}


def conditional_accuracy(generator, dataset="mnist", num_samples=1000, seed=0, extractor="domain"):
    """Share of a conditional generator's images the domain classifier assigns to the
    requested class.

    Args:
        generator: a conditional model with ``.generate(labels, seed=...)`` and
            ``num_classes`` (``ConditionalGAN``, ``ConditionalVAE``), asked for
            ``num_samples`` images cycling through the classes 0, 1, 2, ...; or an
            ``(images, requested_labels)`` tuple.
        dataset, extractor: see ``fid`` (the extractor must predict the dataset's classes).
        num_samples: images to generate (>= 1; ignored for a tuple).
        seed: seed of the generator's noise.

    Returns:
        ``{"conditional_accuracy": float, "per_class_accuracy": list, "protocol": dict}``.
    """
    extractor = extractor_for(dataset, extractor)
    _require_dataset_classes(extractor, "conditional_accuracy")
    if isinstance(generator, tuple) and len(generator) == 2:
        images, labels = generator
        source = "(images, labels)"
    elif isinstance(generator, GenerativeModel):
        if not generator.conditional:
            raise UnsupportedModelError(f"conditional_accuracy needs a class-conditional model; "
                                        f"{type(generator).__name__} {generator.name!r} has num_classes=None.")
        check_positive_int("num_samples", num_samples)
        labels = np.arange(num_samples) % generator.num_classes
        images, source = generator.generate(labels, seed=seed), f"{type(generator).__name__}.generate"
    else:
        raise TypeError("generator must be a conditional keras_gen model (ConditionalGAN, ConditionalVAE, a "
                        f"conditional PixelCNN) or an (images, labels) tuple; got {type(generator).__name__}.")
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind not in "iu" or len(labels) != len(images) or (labels < 0).any() or (
            labels >= extractor.num_classes).any():
        raise ValueError(f"labels must be {len(images)} class ids in [0, {extractor.num_classes - 1}] (one per image).")
    _, logits = extractor(images, "generated")
    hits = logits.argmax(1) == labels
    per_class = [float(hits[labels == c].mean()) if (labels == c).any() else None
                 for c in range(extractor.num_classes)]
    protocol = {**extractor.protocol(), "generated": source, "num_generated": len(labels), "seed": seed}
    return {"conditional_accuracy": float(hits.mean()), "per_class_accuracy": per_class, "protocol": protocol}


def evaluate_samples(real, generated, dataset="mnist", num_samples=None, seed=0, k=3, num_subsets=100,
                     subset_size=None, num_splits=10, min_share=0.5, extractor="domain"):
    """Every sample-quality score at once, from one pass of the extractor over each set.

    Args:
        real, generated, dataset, num_samples, seed, extractor: see ``fid``.
        k: see ``precision_recall``; num_subsets, subset_size: see ``kid``;
        num_splits: see ``classifier_score``; min_share: see ``mode_coverage``.

    Returns:
        A dict: ``fid``, ``kid``, ``kid_std``, ``classifier_score``,
        ``classifier_score_std``, ``real_classifier_score`` (the same formula on the
        real images, the reachable value), ``precision``, ``recall``, the
        ``mode_coverage`` keys, ``conditional_accuracy`` when ``generated`` is a
        conditional model, and ``protocol``. An extractor whose classes are not the
        dataset's (``"inception"``) gives no mode coverage or conditional accuracy; the
        protocol's ``not_computed`` says so.

    Example:
        >>> scores = evaluate_samples("test", gan, dataset="fashion_mnist", num_samples=2000)
        >>> print(f"FID {scores['fid']:.2f} ({scores['protocol']['extractor']})")
    """
    _check_settings(k, num_subsets, subset_size, num_splits, min_share)
    (real_f, real_l), (gen_f, gen_l), protocol = _pair(real, generated, dataset, num_samples, seed, extractor)
    kid_mean, kid_std, size, subsets = kid_from_features(real_f, gen_f, num_subsets, subset_size, seed)
    score, score_std = inception_score(gen_l, num_splits, seed)
    real_score = inception_score(real_l, num_splits, seed)[0]
    precision, recall = precision_recall_from_features(real_f, gen_f, k)
    scores = {"fid": fid_from_features(real_f, gen_f), "kid": kid_mean, "kid_std": kid_std, "classifier_score": score,
              "classifier_score_std": score_std, "real_classifier_score": real_score,
              "precision": precision, "recall": recall}
    protocol = {**protocol, "k": k, "kid_subsets": subsets, "kid_subset_size": size, "num_splits": num_splits}
    if not extractor_for(dataset, extractor).dataset_classes:
        protocol["not_computed"] = ("mode coverage and conditional accuracy "
                                    "(the extractor's classes are not the dataset's)")
        return {**scores, "protocol": protocol}
    scores.update(class_coverage(real_l, gen_l, min_share))
    if isinstance(generated, GenerativeModel) and generated.conditional:
        scores["conditional_accuracy"] = conditional_accuracy(generated, dataset, protocol["num_generated"],
                                                              seed, extractor)["conditional_accuracy"]
    scores["protocol"] = {**protocol, "min_share": min_share}
    return scores
