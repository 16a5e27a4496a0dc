"""DCGAN (Radford et al. 2016): strided convolutions in the discriminator, fractional-strided
(transposed) convolutions in the generator, batch norm in both, ReLU and a tanh output in
the generator, LeakyReLU in the discriminator, Adam(beta_1=0.5). The default preset has 32
filters instead of the paper's 64 (3.9x faster on a CPU), batch 128 instead of 64 and a
learning rate of 1.2e-3 instead of 2e-4, and computes in bfloat16 on a CPU with native
bfloat16 (--precision auto; 1.23x the images/s), all chosen by better samples at equal time
(benchmarks/results/gan_study.md); --preset radford gives the paper's.

    python recipes/dcgan.py                                  # bundled MNIST, no network
    python recipes/dcgan.py --dataset fashion_mnist --epochs 10
    python recipes/dcgan.py --loss hinge --ema 0.999 --tensorboard logs/dcgan

Images are scaled to [-1, 1] for the tanh generator. During training a grid of samples
from the same fixed noise is written every --sample-every epochs; training stops with a
message if a loss turns NaN or inf, and warns when the samples' diversity collapses.

Writes to --out: samples_epoch_NNN.png, samples.png, interpolation.png,
training_curves.png, model.keras; and exports the generator (z -> image in [0, 1]) to
saved_models/dcgan/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_dcgan
from keras_gen.gan import describe_settings, settings_arguments
from keras_gen.recipes._common import (
    add_gan_flags,
    finish_gan,
    fit_gan,
    gan_settings,
    prepare,
    recipe_parser,
)
from keras_gen.utils import resolve_precision


def main(argv=None):
    parser = add_gan_flags(recipe_parser(__doc__, "dcgan", epochs=30, latent_dim=100, batch_size=None), "dcgan")
    args = parser.parse_args(argv)
    settings = gan_settings(args, "dcgan")
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))
    settings["precision"] = resolve_precision(settings["precision"])  # after prepare, which sets --mixed-precision

    network, compile_args = settings_arguments(settings)
    gan = build_dcgan(data.image_shape, latent_dim=args.latent_dim, seed=args.seed, **network, **compile_args)
    history, stop = fit_gan(gan, data, args)
    return finish_gan(gan, history, stop, data, args, describe_settings(settings))


if __name__ == "__main__":
    main()
