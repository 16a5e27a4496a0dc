import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

from keras_gen import build_latent2d_autoencoder, plotting


def _check_png(path, fig):
    assert path.is_file() and path.stat().st_size > 5000
    assert isinstance(fig, Figure)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_reconstructions_with_noisy_row(tmp_path, fashion_small):
    x = fashion_small[0][:10]
    path = tmp_path / "recon.png"
    fig = plotting.plot_reconstructions(x, x * 0.5, noisy=1 - x, title="My title", path=path)
    _check_png(path, fig)
    assert fig._suptitle.get_text() == "My title"
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["original", "noisy input", "denoised"]
    assert fig.axes[0].images[0].get_cmap().name == "gray"


def test_latent_scatter_with_legend_and_pca(tmp_path, fashion_small):
    rng = np.random.default_rng(0)
    labels = fashion_small[1][:500]
    codes = rng.normal(size=(500, 2)) + labels[:, None]
    names = [f"class {i}" for i in range(10)]
    fig = plotting.plot_latent_scatter(codes, labels, names, path=tmp_path / "scatter.png")
    _check_png(tmp_path / "scatter.png", fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [names[k] for k in np.unique(labels)]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z[0]", "z[1]")
    fig = plotting.plot_latent_scatter(rng.normal(size=(500, 7, 7, 2)), labels, path=tmp_path / "pca.png")
    assert fig.axes[0].get_xlabel().startswith("PC 1")
    with pytest.raises(ValueError, match="500 codes but 3 labels"):
        plotting.plot_latent_scatter(codes, labels[:3])


def test_project_2d_keeps_most_variance():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(size=(300, 2)) * 5, rng.normal(size=(300, 8)) * 0.1], axis=1)
    points, names = plotting.project_2d(codes)
    assert points.shape == (300, 2)
    np.testing.assert_allclose(np.var(points, axis=0).sum(), np.var(codes, axis=0).sum(), rtol=0.01)


def test_manifold_grid_decodes_every_point(tmp_path):
    _, _, decoder = build_latent2d_autoencoder()
    fig = plotting.plot_manifold(decoder, np.linspace(-2, 2, 5), np.linspace(-1, 1, 4), path=tmp_path / "m.png")
    _check_png(tmp_path / "m.png", fig)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (4 * 28, 5 * 28)
    top_left = keras.ops.convert_to_numpy(decoder(np.array([[-2.0, 1.0]], np.float32)))[0, :, :, 0]
    np.testing.assert_allclose(image[:28, :28], top_left, atol=1e-5)


def test_image_grid_and_history(tmp_path, fashion_small):
    fig = plotting.plot_image_grid(fashion_small[0][:20], ncols=8, title="grid", path=tmp_path / "g.png")
    _check_png(tmp_path / "g.png", fig)
    assert sum(1 for ax in fig.axes if ax.images) == 20
    history = {"loss": [0.3, 0.2, 0.15], "val_loss": [0.31, 0.22, 0.2], "accuracy": [0.5, 0.6, 0.7]}
    fig = plotting.plot_history(history, path=tmp_path / "h.png")
    _check_png(tmp_path / "h.png", fig)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="history is empty"):
        plotting.plot_history({})
    with pytest.raises(ValueError, match=r"images must be shaped"):
        plotting.plot_image_grid(np.zeros((2, 28, 28, 2)))
