"""Denoising autoencoder: inputs are corrupted while training, the target stays clean;
at inference the model removes the noise from what it is given.

    python recipes/denoising_autoencoder.py                              # gaussian, stddev 0.5
    python recipes/denoising_autoencoder.py --noise salt_and_pepper --noise-amount 0.2
    python recipes/denoising_autoencoder.py --noise mask --noise-amount 0.5 --dataset fashion_mnist

Writes to --out: denoising.png (clean, noisy, denoised), training_curves.png, model.keras;
and exports the model (encode, decode, denoise) to saved_models/denoising_autoencoder/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_denoising_autoencoder, corrupt, plotting
from keras_gen.layers import CORRUPTIONS
from keras_gen.recipes._common import finish, for_training, prepare, recipe_parser, report_test_loss


def main(argv=None):
    parser = recipe_parser(__doc__, "denoising_autoencoder", epochs=10, latent_dim=32)
    parser.add_argument("--noise", choices=CORRUPTIONS, default="gaussian", help="default: gaussian")
    parser.add_argument("--noise-amount", type=float, default=0.5,
                        help="gaussian stddev, or fraction of corrupted pixels (default: 0.5)")
    args = parser.parse_args(argv)
    data = prepare(args)

    autoencoder, encoder, decoder = build_denoising_autoencoder(
        data.image_shape, noise=args.noise, noise_amount=args.noise_amount, seed=args.seed,
        filters=(32, args.latent_dim),  # --latent-dim: channels of the (7, 7, latent_dim) code
    )
    autoencoder.summary()
    history = for_training(autoencoder, args).fit(data.train, epochs=args.epochs, validation_data=data.test)

    # At inference the corruption layer is inactive: we corrupt test images ourselves
    # (same noise, fixed seed) and ask the model for the clean image.
    noisy_test = data.test.map(lambda x, y: (corrupt(x, args.noise, args.noise_amount, seed=args.seed + 1), y))
    report_test_loss(autoencoder, noisy_test, data, args, what="test denoising loss (noisy input -> clean target)")
    x = data.x_test[:10]
    noisy = corrupt(x, args.noise, args.noise_amount, seed=args.seed + 1)
    plotting.plot_reconstructions(
        x, autoencoder.predict(noisy, verbose=0), noisy=noisy,
        title=f"Denoising autoencoder ({args.noise} noise, amount {args.noise_amount:g}): clean, noisy, denoised",
        path=data.out / "denoising.png",
    )
    return finish(autoencoder, history, data, args)


if __name__ == "__main__":
    main()
