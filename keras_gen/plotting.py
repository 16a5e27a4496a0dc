"""Figures: image grids, reconstructions, latent scatter, manifold grids, training curves.

Every function draws on a fresh ``matplotlib.figure.Figure`` (no pyplot state, so it
runs headless), returns it, and writes a PNG when ``path`` is given. Images are
expected in [0, 1], shaped ``(N, H, W, C)``; one channel is drawn with the gray map.
"""

from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def _to_numpy_images(images):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must be shaped (N, H, W[, 1|3|4]), got {images.shape}.")
    return np.clip(images, 0.0, 1.0)


def _show(ax, image):
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])


def _save(fig, path):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
    return fig


def plot_image_grid(images, ncols=8, title=None, path=None, cell_inches=1.0):
    """Draws images in a grid, ``ncols`` per row.

    Returns:
        The figure.
    """
    images = _to_numpy_images(images)
    nrows = int(np.ceil(len(images) / ncols))
    fig = Figure(figsize=(ncols * cell_inches, nrows * cell_inches + (0.4 if title else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            _show(ax, images[i])
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def tile_images(images, ncols=8):
    """Tiles ``(N, H, W, C)`` images in [0, 1] into one ``(rows * H, ncols * W, C)`` array,
    row by row; empty cells of the last row are black. For TensorBoard and manifolds."""
    images = _to_numpy_images(images)
    if not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols!r}.")
    n, h, w, c = images.shape
    rows = -(-n // ncols)
    padded = np.zeros((rows * ncols, h, w, c), np.float32)
    padded[:n] = images
    return padded.reshape(rows, ncols, h, w, c).transpose(0, 2, 1, 3, 4).reshape(rows * h, ncols * w, c)


def plot_image_rows(rows, title=None, path=None, cell_inches=1.1):
    """Draws labelled rows of images: ``rows`` maps a row label to its images.

    Used for reconstructions (original / reconstruction), interpolations (one row per
    pair) and class-conditional samples (one row per class).

    Returns:
        The figure.
    """
    rows = [(str(label), _to_numpy_images(images)) for label, images in dict(rows).items()]
    if not rows:
        raise ValueError("rows is empty: give at least one row of images.")
    n = max(len(images) for _, images in rows)
    fig = Figure(figsize=(n * cell_inches + 1.4, len(rows) * (cell_inches + 0.05) + (0.5 if title else 0.1)))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(n):
            if c < len(images):
                _show(axes[r, c], images[c])
            else:
                axes[r, c].axis("off")
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_reconstructions(originals, reconstructions, noisy=None, n=10, title="Reconstructions", path=None):
    """Originals (top row), the noisy inputs when given, and reconstructions (bottom).

    Args:
        originals, reconstructions: image arrays in [0, 1]; the first ``n`` are drawn.
        noisy: the corrupted inputs of a denoising autoencoder, drawn between the two.
    """
    rows = {"original": originals}
    if noisy is not None:
        rows["noisy input"] = noisy
    rows["reconstruction" if noisy is None else "denoised"] = reconstructions
    n = min(n, *(len(images) for images in rows.values()))
    return plot_image_rows({label: np.asarray(images)[:n] for label, images in rows.items()}, title=title, path=path)


def project_2d(codes):
    """Flattens codes and returns 2-D points and axis names: the codes themselves when
    they are 2-D, else their first two principal components."""
    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    if codes.shape[1] == 1:
        raise ValueError("cannot draw a 2-D scatter of 1-D codes.")
    if codes.shape[1] == 2:
        return codes, ("z[0]", "z[1]")
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    explained = s[:2] ** 2 / np.sum(s**2)
    return centred @ vt[:2].T, tuple(f"PC {i + 1} ({e:.0%} of variance)" for i, e in enumerate(explained))


def plot_latent_scatter(codes, labels, class_names=None, title="Latent space", path=None, ax=None):
    """Scatter of codes coloured by class, with a legend (PCA when codes are not 2-D).

    Args:
        codes: ``(N, ...)`` codes from an encoder.
        labels: ``(N,)`` integer classes.
        class_names: names for the legend (default: the class numbers).
        ax: draw into this axes (for side-by-side comparisons) instead of a new figure.
    """
    points, (xlabel, ylabel) = project_2d(codes)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(points):
        raise ValueError(f"{len(points)} codes but {len(labels)} labels.")
    fig = None
    if ax is None:
        fig = Figure(figsize=(7.5, 6))
        ax = fig.subplots()
    colours = matplotlib.colormaps["tab10" if len(np.unique(labels)) <= 10 else "tab20"]
    for k in np.unique(labels):
        name = class_names[k] if class_names is not None else str(k)
        ax.scatter(*points[labels == k].T, s=3, alpha=0.6, label=name, color=colours(int(k) % colours.N))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(markerscale=4, fontsize=8, loc="best", title="class")
    return _save(fig, path) if fig is not None else ax.figure


def plot_latent_comparison(panels, labels, class_names=None, title=None, path=None):
    """Latent scatters side by side, for example an autoencoder's and a VAE's codes of
    the same images: ``panels`` is a list of ``(codes, panel_title)``."""
    if not panels:
        raise ValueError("panels is empty: give at least one (codes, title) pair.")
    fig = Figure(figsize=(6.5 * len(panels), 5.8))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (codes, panel_title) in zip(axes, panels):
        plot_latent_scatter(codes, labels, class_names, title=panel_title, ax=ax)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_manifold(decoder, x_values, y_values, title="Decoded latent grid", path=None):
    """Decodes a grid of 2-D codes and tiles the images: the decoder's manifold.

    Args:
        decoder: a model mapping ``(N, 2)`` codes to images in [0, 1].
        x_values, y_values: code values along z[0] (columns) and z[1] (rows,
            largest at the top).
    """
    x_values, y_values = np.asarray(x_values, np.float32), np.asarray(y_values, np.float32)
    grid = np.array([[x, y] for y in y_values[::-1] for x in x_values], dtype=np.float32)
    tiled = tile_images(decoder.predict(grid, verbose=0), ncols=len(x_values))
    c = tiled.shape[-1]
    fig = Figure(figsize=(8, 8))
    ax = fig.subplots()
    extent = (x_values[0], x_values[-1], y_values[0], y_values[-1])
    if c == 1:
        ax.imshow(tiled[..., 0], cmap="gray", vmin=0, vmax=1, extent=extent, aspect="auto")
    else:
        ax.imshow(tiled, extent=extent, aspect="auto")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title(title)
    return _save(fig, path)


def plot_history(history, title="Training curves", val_label="validation", path=None):
    """Plots every metric of a Keras ``History`` (or its ``.history`` dict) against the
    epoch, with its ``val_`` counterpart in the same panel, labelled ``val_label``."""
    logs = getattr(history, "history", history)
    if not logs:
        raise ValueError("the history is empty: was fit run for at least one epoch?")
    names = [k for k in logs if not k.startswith("val_")]
    fig = Figure(figsize=(5 * len(names), 4))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], marker="o", label=f"train {name}")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], marker="o", label=f"{val_label} {name}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)
