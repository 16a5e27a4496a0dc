"""DCGAN training throughput: ``GAN.fit`` against a plain hand-written ``tf.function`` loop.

    python benchmarks/gan_throughput.py                    # 5 rounds of 40 steps, batch 128
    python benchmarks/gan_throughput.py --steps 100 --batch-size 64

Both train the same networks (``build_dcgan``, same seed), with the same non-saturating
loss, Adam(2e-4, beta_1=0.5) optimizers, tf.data pipeline (Fashion-MNIST in [-1, 1]) and
the same passes per step: one discriminator update on the real batch and fresh fakes,
then one generator update on fresh z. The loop has no metrics, callbacks or EMA. A third
variant calls ``GAN.train_step`` in the same loop, to tell the step's cost from fit's.
After one warm-up round each (tracing), the variants run ``--rounds`` timed rounds of
``--steps`` steps, interleaved, in the same process. Reported: the median images/s
(wall clock) and the median CPU time per image (all threads; steadier than wall time
when other processes share the machine). Results go to benchmarks/results/gan_throughput.{md,json}.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import (  # noqa: E402
    benchmark_parser,
    fit_runner,
    header,
    interleaved_rates,
    loop_runner,
    write_throughput,
)
from keras_gen import datasets  # noqa: E402
from keras_gen.gan import build_dcgan  # noqa: E402
from keras_gen.losses import discriminator_loss, generator_loss  # noqa: E402


def gan_fit_runner(data, steps, seed):
    """(wall, CPU) seconds of ``steps`` steps of ``GAN.fit``."""
    keras.utils.set_random_seed(seed)
    return fit_runner(build_dcgan(seed=seed), data, steps)


def hand_loop_runner(data, steps, seed):
    """(wall, CPU) seconds of ``steps`` steps of the hand-written loop."""
    keras.utils.set_random_seed(seed)
    networks = build_dcgan(seed=seed)
    generator, discriminator, latent_dim = networks.generator, networks.discriminator, networks.latent_dim
    d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function
    def train_step(real):
        batch = tf.shape(real)[0]
        fake = generator(tf.random.normal((batch, latent_dim)), training=True)
        with tf.GradientTape() as tape:
            d_loss = discriminator_loss(discriminator(real, training=True), discriminator(fake, training=True))
        gradients = tape.gradient(d_loss, discriminator.trainable_weights)
        d_optimizer.apply_gradients(zip(gradients, discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            fake = generator(tf.random.normal((batch, latent_dim)), training=True)
            g_loss = generator_loss(discriminator(fake, training=True))
        gradients = tape.gradient(g_loss, generator.trainable_weights)
        g_optimizer.apply_gradients(zip(gradients, generator.trainable_weights))
        return d_loss, g_loss

    return loop_runner(train_step, data, steps)


def train_step_runner(data, steps, seed):
    """(wall, CPU) seconds of ``steps`` calls of ``GAN.train_step`` in the same loop: separates
    the cost of the step itself from the cost of ``fit``'s machinery."""
    keras.utils.set_random_seed(seed)
    gan = build_dcgan(seed=seed)
    return loop_runner(tf.function(gan.train_step), data, steps)


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round (and per warm-up)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per variant, interleaved")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 2, 1
    data = datasets.load("fashion_mnist", value_range=(-1, 1), batch_size=args.batch_size, seed=args.seed,
                         limit=2 * args.steps * args.batch_size, drop_remainder=True).repeat()
    runners = {
        "GAN.fit": gan_fit_runner(data, args.steps, args.seed),
        "hand-written tf.function loop": hand_loop_runner(data, args.steps, args.seed),
        "GAN.train_step in that loop": train_step_runner(data, args.steps, args.seed),
    }
    results = interleaved_rates(runners, args.rounds, args.steps * args.batch_size)
    head = header("gan_throughput.py", args.seed, args.quick)
    protocol = (f"DCGAN (filters 64, latent 100) on Fashion-MNIST, batch {args.batch_size}, "
                f"median of {args.rounds} interleaved rounds of {args.steps} steps after one warm-up round each")
    write_throughput(args.out, "gan_throughput", head, protocol, results, "GAN.fit")


if __name__ == "__main__":
    main()
