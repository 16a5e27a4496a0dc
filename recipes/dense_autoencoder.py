"""Dense autoencoder: 784 -> 32 (ReLU) -> 784 (sigmoid), the Keras blog autoencoder post's network.

    python recipes/dense_autoencoder.py                      # bundled MNIST, no network
    python recipes/dense_autoencoder.py --dataset fashion_mnist --epochs 30

Writes to --out: reconstructions.png, training_curves.png, model.keras; and exports the
model (encode, decode, reconstruct) to saved_models/dense_autoencoder/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_dense_autoencoder, plotting
from keras_gen.recipes._common import finish, for_training, prepare, recipe_parser


def main(argv=None):
    args = recipe_parser(__doc__, "dense_autoencoder", epochs=50, latent_dim=32).parse_args(argv)
    data = prepare(args)

    autoencoder, encoder, decoder = build_dense_autoencoder(data.image_shape, latent_dim=args.latent_dim)
    autoencoder.summary()
    history = for_training(autoencoder, args).fit(data.train, epochs=args.epochs, validation_data=data.test)

    x = data.x_test[:10]
    plotting.plot_reconstructions(
        x, autoencoder.predict(x, verbose=0),
        title=f"Dense autoencoder ({args.latent_dim}-d code): test images and reconstructions",
        path=data.out / "reconstructions.png",
    )
    return finish(autoencoder, history, data, args)


if __name__ == "__main__":
    main()
