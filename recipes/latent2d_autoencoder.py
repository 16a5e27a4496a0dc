"""Autoencoder with a 2-D code (784 -> 512 -> 2 -> 512 -> 784), for latent-space
pictures: where each class lands in the plane, and what the decoder draws
across it.

    python recipes/latent2d_autoencoder.py                   # bundled MNIST, no network
    python recipes/latent2d_autoencoder.py --dataset fashion_mnist

The code is 2-D by definition, so this recipe has no --latent-dim flag.
Writes to --out: latent_scatter.png, manifold.png, reconstructions.png,
training_curves.png, model.keras; and exports the model (encode, decode, reconstruct) to
saved_models/latent2d_autoencoder/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

import numpy as np

from keras_gen import build_latent2d_autoencoder, plotting
from keras_gen.recipes._common import finish, for_training, prepare, recipe_parser


def main(argv=None):
    args = recipe_parser(__doc__, "latent2d_autoencoder", epochs=30).parse_args(argv)
    data = prepare(args)

    autoencoder, encoder, decoder = build_latent2d_autoencoder(data.image_shape)
    autoencoder.summary()
    history = for_training(autoencoder, args).fit(data.train, epochs=args.epochs, validation_data=data.test)

    codes = encoder.predict(data.x_test, verbose=0)
    plotting.plot_latent_scatter(
        codes, data.y_test, data.test_info.class_names,
        title=f"2-D codes of {len(codes)} {data.test_info.name} test images",
        path=data.out / "latent_scatter.png",
    )
    # Decode a grid spanning where the test codes lie (1st to 99th percentile).
    low, high = np.percentile(codes, [1, 99], axis=0)
    plotting.plot_manifold(
        decoder, np.linspace(low[0], high[0], 15), np.linspace(low[1], high[1], 15),
        title="Decoder output over the 2-D code plane", path=data.out / "manifold.png",
    )
    x = data.x_test[:10]
    plotting.plot_reconstructions(
        x, autoencoder.predict(x, verbose=0), title="2-D latent autoencoder: test images and reconstructions",
        path=data.out / "reconstructions.png",
    )
    return finish(autoencoder, history, data, args)


if __name__ == "__main__":
    main()
