"""Variational autoencoder (Kingma and Welling 2014): an encoder q(z|x) giving a mean and a
log-variance, the Sampling layer (z = mu + sigma * eps), a decoder p(x|z), and the loss
reconstruction NLL + KL(q(z|x) || N(0, I)).

    python recipes/vae.py                                   # bundled MNIST, no network
    python recipes/vae.py --dataset fashion_mnist --epochs 10 --latent-dim 16
    python recipes/vae.py --likelihood gaussian --beta 4 --warmup-epochs 5

With the Bernoulli likelihood, pixels are binarized as in the likelihood literature
(dynamic on train, one fixed draw on test), so the printed test negative ELBO and
importance-weighted NLL (nats per image, bits/dim) are proper discrete likelihoods.
An autoencoder with a 2-D code is trained alongside (unless --no-compare-ae) for the
side-by-side picture of an entangled and a regularised latent space.

Writes to --out: latent_scatter.png, manifold.png (2-D latent only), interpolation.png,
samples.png, reconstructions.png, ae_vs_vae.png, training_curves.png, model.keras; and
exports the model (sample, decode, encode, reconstruct) to saved_models/vae/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

import numpy as np

from keras_gen import build_latent2d_autoencoder, build_vae, plotting
from keras_gen.latent import interpolate
from keras_gen.recipes._common import (
    add_vae_flags,
    finish_vae,
    for_training,
    prepare,
    recipe_parser,
    vae_callbacks,
    vae_settings,
)
from keras_gen.vae import prior_quantiles


def interpolation_rows(vae, x, y, class_names, pairs=4, steps=10):
    """Encodes test images of different classes and decodes the line between their means."""
    rows = {}
    z_mean = vae.encoder.predict(x, verbose=0)[0]
    firsts = [int(np.flatnonzero(y == k)[0]) for k in np.unique(y)]
    for a, b in zip(firsts[:pairs], firsts[::-1][:pairs]):  # class 0 -> last class, 1 -> last but one, ...
        codes = interpolate(z_mean[a], z_mean[b], steps=steps)
        decoded = vae.decoder.predict(codes, verbose=0)
        rows[f"{class_names[y[a]]} -> {class_names[y[b]]}"] = np.concatenate([x[a:a + 1], decoded, x[b:b + 1]])
    return rows


def main(argv=None):
    parser = add_vae_flags(recipe_parser(__doc__, "vae", epochs=30, latent_dim=2))
    parser.add_argument("--no-compare-ae", action="store_true", help="skip the autoencoder trained for ae_vs_vae.png")
    args = parser.parse_args(argv)
    binarize = vae_settings(args)
    data = prepare(args, labels=True, binarize=binarize)

    vae = build_vae(data.image_shape, latent_dim=args.latent_dim, architecture=args.architecture,
                    likelihood=args.likelihood, beta=args.beta, seed=args.seed)
    vae.summary()
    history = for_training(vae, args).fit(data.train, epochs=args.epochs, validation_data=data.test,
                                          callbacks=vae_callbacks(args))

    x, y, names = data.x_test, data.y_test, data.test_info.class_names
    z_mean = vae.encoder.predict(x, verbose=0)[0]
    plotting.plot_latent_scatter(z_mean, y, names, title=f"VAE: z_mean of {len(x)} {data.test_info.name} test images",
                                 path=data.out / "latent_scatter.png")
    if args.latent_dim == 2:
        grid = prior_quantiles(15)
        plotting.plot_manifold(vae.decoder, grid, grid, title="Decoder over the prior's 5%-95% quantiles",
                               path=data.out / "manifold.png")
    else:
        print("manifold.png needs --latent-dim 2: skipped")
    plotting.plot_image_rows(interpolation_rows(vae, x, y, names),
                             title="Interpolation between encoded test images (first and last: the originals)",
                             path=data.out / "interpolation.png")
    plotting.plot_image_grid(vae.sample(64, seed=args.seed), title="Samples: z ~ N(0, I), decoder means",
                             path=data.out / "samples.png")
    plotting.plot_reconstructions(x[:10], vae.predict(x[:10], verbose=0), title="VAE: test images and reconstructions",
                                  path=data.out / "reconstructions.png")
    if not args.no_compare_ae:
        # The same images through a plain autoencoder with a 2-D code: nothing pulls its
        # codes towards a prior, so classes spread out over arbitrary scales and gaps.
        train_pairs = data.train.map(lambda images, labels: (images, images))
        autoencoder, encoder, _ = build_latent2d_autoencoder(data.image_shape)
        print(f"training a 2-D autoencoder for {args.epochs} epochs for the AE vs VAE figure ...")
        for_training(autoencoder, args).fit(train_pairs, epochs=args.epochs, verbose=0)
        plotting.plot_latent_comparison(
            [(encoder.predict(x, verbose=0), "autoencoder: 2-D codes"), (z_mean, "VAE: z_mean")], y, names,
            title=f"Latent spaces of {len(x)} {data.test_info.name} test images", path=data.out / "ae_vs_vae.png",
        )
    return finish_vae(vae, history, data, args)


if __name__ == "__main__":
    main()
