"""Conditional GAN (Mirza and Osindero 2014) on DCGAN networks: the generator gets z and a
label embedding, the discriminator gets the image and the label, so it judges "is this a
real 7?", not just "is this real?". You choose the class of each sample.

Defaults (``--preset default``, chosen by benchmarks/gan_study.py): 32 filters, Adam 8e-4
for both networks, a projection discriminator (its logit plus the inner product of its
last features with a learned class vector, Miyato and Koyama 2018), AC-GAN's class head on
D (Odena et al. 2017: D also learns to classify the real images, G to draw images D puts in
the asked class; ``--no-auxiliary-classifier`` turns it off) and samples from an EMA of the
generator's weights. ``--preset radford``: 64 filters, Adam 2e-4, the label as a learned
per-class image plane in an extra channel of D, no class head, no EMA.

    python recipes/conditional_gan.py                        # bundled MNIST, no network
    python recipes/conditional_gan.py --dataset fashion_mnist --epochs 10

Writes to --out: samples_epoch_NNN.png (one class per column, fixed noise),
samples.png, class_rows.png (one class per row, the same z per column),
class_interpolation.png (label embedding moved from one class to another, z fixed),
interpolation.png, training_curves.png, model.keras; and exports the generator
(z, label -> image in [0, 1]) to saved_models/conditional_gan/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

import numpy as np

from keras_gen import build_conditional_gan, plotting
from keras_gen.gan import describe_settings, settings_arguments
from keras_gen.recipes._common import (
    add_gan_flags,
    finish_gan,
    fit_gan,
    gan_settings,
    prepare,
    recipe_parser,
)

CLASS_PAIRS = ((1, 7), (3, 8), (4, 9), (0, 6), (2, 5))  # classes that share strokes (digit ids; any 10-class set)


def main(argv=None):
    parser = add_gan_flags(recipe_parser(__doc__, "conditional_gan", epochs=30, latent_dim=100, batch_size=None),
                           "conditional_gan")
    args = parser.parse_args(argv)
    settings = gan_settings(args, "conditional_gan")
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))
    num_classes = len(data.test_info.class_names)

    network, compile_args = settings_arguments(settings)
    gan = build_conditional_gan(data.image_shape, num_classes=num_classes, latent_dim=args.latent_dim,
                                seed=args.seed, **network, **compile_args)
    history, stop = fit_gan(gan, data, args)

    names = data.test_info.class_names
    z = gan.latent_vectors(10, seed=args.seed)
    plotting.plot_image_rows({names[k]: gan.generate(np.full(len(z), k), z=z) for k in range(num_classes)},
                             title="One class per row; the same z in each column", path=data.out / "class_rows.png")
    pairs = [(a, b) for a, b in CLASS_PAIRS if max(a, b) < num_classes]
    rows = {f"{names[a]} -> {names[b]}": gan.interpolate_classes(a, b, steps=10, z=z[i:i + 1])[0]
            for i, (a, b) in enumerate(pairs)}
    plotting.plot_image_rows(rows, title="Class interpolation: label embedding from one class to another, z fixed",
                             path=data.out / "class_interpolation.png")
    return finish_gan(gan, history, stop, data, args, describe_settings(settings))


if __name__ == "__main__":
    main()
