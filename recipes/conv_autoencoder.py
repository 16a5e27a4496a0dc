"""Convolutional autoencoder: Conv2D(32, 3) + MaxPooling twice down
to a (7, 7, 32) code, Conv2D + UpSampling2D back up, sigmoid output.

    python recipes/conv_autoencoder.py                      # bundled MNIST, no network
    python recipes/conv_autoencoder.py --dataset fashion_mnist --epochs 10

At the end the trained encoder is reused as a frozen feature extractor: a linear
softmax probe is trained on its codes and its test accuracy is printed.
Writes to --out: reconstructions.png, training_curves.png, model.keras; and exports the
model (encode, decode, reconstruct) to saved_models/conv_autoencoder/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_conv_autoencoder, build_encoder_classifier, plotting
from keras_gen.recipes._common import finish, for_training, prepare, recipe_parser


def main(argv=None):
    parser = recipe_parser(__doc__, "conv_autoencoder", epochs=10, latent_dim=32)
    parser.add_argument("--probe-epochs", type=int, default=20,
                        help="epochs of the linear probe on the codes (0: skip)")
    args = parser.parse_args(argv)
    data = prepare(args)

    # --latent-dim sets the code's channels: a (7, 7, latent_dim) code for 28x28 images.
    autoencoder, encoder, decoder = build_conv_autoencoder(data.image_shape, filters=(32, args.latent_dim))
    autoencoder.summary()
    history = for_training(autoencoder, args).fit(data.train, epochs=args.epochs, validation_data=data.test)

    x = data.x_test[:10]
    plotting.plot_reconstructions(
        x, autoencoder.predict(x, verbose=0),
        title=f"Convolutional autoencoder ({'x'.join(map(str, encoder.output.shape[1:]))} code): "
        "test images and reconstructions",
        path=data.out / "reconstructions.png",
    )
    if args.probe_epochs > 0:
        # The encoder as a feature extractor: a linear classifier on its frozen codes,
        # trained on the first half of the test split and scored on the second half.
        half = len(data.x_test) // 2
        probe = build_encoder_classifier(encoder, num_classes=len(data.test_info.class_names))
        for_training(probe, args).fit(data.x_test[:half], data.y_test[:half], epochs=args.probe_epochs, batch_size=128,
                                      verbose=0)
        accuracy = probe.evaluate(data.x_test[half:], data.y_test[half:], verbose=0, return_dict=True)["accuracy"]
        print(f"linear probe on frozen codes: {accuracy:.1%} test accuracy (trained {args.probe_epochs} "
              f"epochs on test images 0-{half - 1}, scored on {half}-{len(data.x_test) - 1})")
        encoder.trainable = True  # the probe froze the shared encoder; the autoencoder is saved as trained
    return finish(autoencoder, history, data, args)  # last: the export leaves a --distribute strategy


if __name__ == "__main__":
    main()
