"""Class-conditional VAE (Sohn et al. 2015): the label goes to the encoder q(z|x, y) and
to the decoder p(x|z, y), so z is free to model what the label does not say: style
(slant, stroke width). Ask the decoder for any class with any style.

    python recipes/conditional_vae.py                       # bundled MNIST, no network
    python recipes/conditional_vae.py --dataset fashion_mnist --epochs 10

Prints the test negative ELBO and importance-weighted NLL of log p(x|y) (nats per image,
bits/dim), on binarized pixels for the Bernoulli likelihood.

Writes to --out: class_rows.png (one row per class, one style z per column),
style_space.png (z coloured by class: mixed, since the label carries the class),
reconstructions.png, training_curves.png, model.keras; and exports the model (sample, decode, encode, reconstruct) to
saved_models/conditional_vae/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

import keras
import numpy as np

from keras_gen import build_conditional_vae, plotting
from keras_gen.recipes._common import (
    add_vae_flags,
    finish_vae,
    for_training,
    prepare,
    recipe_parser,
    vae_callbacks,
    vae_settings,
)


def main(argv=None):
    parser = add_vae_flags(recipe_parser(__doc__, "conditional_vae", epochs=30, latent_dim=2))
    args = parser.parse_args(argv)
    binarize = vae_settings(args)
    data = prepare(args, labels=True, binarize=binarize)
    names = data.test_info.class_names
    if not names:
        raise SystemExit(f"error: the conditional VAE needs class labels; {data.info.name} has none.")

    cvae = build_conditional_vae(data.image_shape, latent_dim=args.latent_dim, num_classes=len(names),
                                 architecture=args.architecture, likelihood=args.likelihood, beta=args.beta,
                                 seed=args.seed)
    cvae.summary()
    history = for_training(cvae, args).fit(data.train, epochs=args.epochs, validation_data=data.test,
                                           callbacks=vae_callbacks(args))

    # One row per class; column j uses the same style code z_j for every class.
    styles = keras.ops.convert_to_numpy(keras.random.normal((10, args.latent_dim), seed=args.seed))
    rows = {name: cvae.generate(np.full(10, k), z=styles) for k, name in enumerate(names)}
    plotting.plot_image_rows(rows, title="Conditional VAE: one class per row, one style z ~ N(0, I) per column",
                             path=data.out / "class_rows.png")
    x, y = data.x_test, data.y_test
    z_mean = cvae.encoder.predict([x, y], verbose=0)[0]
    plotting.plot_latent_scatter(z_mean, y, names, title="Conditional VAE: style codes z_mean, coloured by class",
                                 path=data.out / "style_space.png")
    plotting.plot_reconstructions(x[:10], cvae.predict([x[:10], y[:10]], verbose=0),
                                  title="Conditional VAE: test images and reconstructions",
                                  path=data.out / "reconstructions.png")
    return finish_vae(cvae, history, data, args)


if __name__ == "__main__":
    main()
