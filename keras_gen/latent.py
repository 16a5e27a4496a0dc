"""Latent-space tools shared by VAEs and GANs: interpolation and vector arithmetic."""

import numpy as np

from keras_gen.utils import is_int

INTERPOLATIONS = ("linear", "spherical")


def slerp(a, b, t):
    """Spherical interpolation between vectors ``a`` and ``b`` at fraction ``t`` in [0, 1]:
    it follows the great circle, so the norm stays typical of a Gaussian prior (White,
    2016). Falls back to linear interpolation for (anti)parallel vectors."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return (1.0 - t) * a + t * b
    return (np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolate(a, b, steps=8, method="linear"):
    """``steps`` codes from ``a`` to ``b`` (both included), shape ``(steps, dim)``.

    Args:
        a, b: 1-D latent vectors of the same size.
        method: ``"linear"`` or ``"spherical"`` (``slerp``).
    """
    a, b = np.asarray(a, np.float32).reshape(-1), np.asarray(b, np.float32).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same size, got {a.shape[0]} and {b.shape[0]}.")
    if not is_int(steps) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2, got {steps!r}.")
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}, got {method!r}.")
    ts = np.linspace(0.0, 1.0, steps)
    if method == "linear":
        return ((1.0 - ts)[:, None] * a + ts[:, None] * b).astype(np.float32)
    return np.stack([slerp(a, b, t) for t in ts]).astype(np.float32)


def vector_arithmetic(z_a, z_b, z_c):
    """DCGAN's latent arithmetic (Radford et al. 2016): mean(z_a) - mean(z_b) + mean(z_c),
    e.g. smiling woman - neutral woman + neutral man. Each argument is a latent vector
    ``(latent_dim,)`` or a group ``(N, latent_dim)`` (averaging a few steadies the
    result). Returns a float32 vector ``(latent_dim,)``."""
    means = [np.asarray(z, np.float32).reshape(-1, np.shape(z)[-1]).mean(axis=0) for z in (z_a, z_b, z_c)]
    if len({m.shape for m in means}) != 1:
        raise ValueError(f"z_a, z_b and z_c must share latent_dim, got sizes {[m.shape[0] for m in means]}.")
    return means[0] - means[1] + means[2]
