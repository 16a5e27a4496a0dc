"""DCGAN training throughput: ``GAN.fit`` against a plain hand-written ``tf.function`` loop.

    python benchmarks/gan_throughput.py                    # build_dcgan's defaults: 9 rounds of 200 steps
    python benchmarks/gan_throughput.py --preset radford   # the classic settings (results: gan_throughput_radford)

Both train the same networks (``build_dcgan(preset=...)``, same seed, same dtype policy),
with the preset's loss, optimizers, discriminator steps, R1 penalty and generator EMA, the
same tf.data pipeline (Fashion-MNIST in [-1, 1]) and the same passes per step: the
discriminator updates on the real batch and fresh fakes, then one generator update on
fresh z, then the EMA update. The loop has no metrics or callbacks. A third variant calls
``GAN.train_step`` in the same loop, to tell the step's cost from fit's; a fourth runs
``fit`` after ``compile(steps_per_execution=20)`` (Keras's option: 20 steps per call,
callbacks see every 20th step); a fifth runs ``fit`` with Keras 3's own train function
in place of keras_gen's one-step function (``keras_gen.distribute.FitMixin``), to
measure what that function saves.

Each round is one epoch of ``--steps`` steps: one ``fit(epochs=1, steps_per_epoch=...)``
call, timed from its epoch's start to its end (a callback), or ``--steps`` steps of the
loop over a new iterator. Both open the dataset's iterator once per round, as a training
run does once per epoch (filling the 51,200-image shuffle buffer: about 0.1 s of a 9 s
round here), and both release it after the clock stops (see ``common.loop_runner``).
After one warm-up round each (tracing), the variants run
``--rounds`` timed rounds, interleaved, in the same process. Reported: the median images/s
(wall clock), the median CPU time per image (all threads; steadier than wall time when
other processes share the machine), and fit's images/s over the loop's round by round
(each pair ran next to each other, so slow phases of the machine hit both). Results go to
benchmarks/results/gan_throughput.{md,json}.

Rounds are long against ``fit``'s fixed cost per call (about 0.1 s) and the machine's
phases: rounds of one variant here spread by 10-20% between each other.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import (  # noqa: E402
    benchmark_parser,
    dated_header,
    fit_runner,
    interleaved_rates,
    loop_runner,
    write_throughput,
)
from keras_gen import datasets  # noqa: E402
from keras_gen.gan import PRESETS, build_dcgan, describe_settings, preset_settings, settings_arguments  # noqa: E402
from keras_gen.losses import discriminator_loss, generator_loss, r1_penalty  # noqa: E402


def gan_fit_runner(data, steps, seed, preset, filters=None, steps_per_execution=1, keras_step_function=False):
    """(wall, CPU) seconds of ``steps`` steps of ``GAN.fit``; with ``steps_per_execution``
    > 1 the model is compiled again with the preset's settings and that option; with
    ``keras_step_function`` fit runs Keras's own train function instead of keras_gen's
    one-step function (``distribute.FitMixin``)."""
    keras.utils.set_random_seed(seed)
    gan = build_dcgan(seed=seed, preset=preset, filters=filters)
    if steps_per_execution > 1:
        _, compiled = settings_arguments(preset_settings("dcgan", preset))
        gan.compile(**compiled, steps_per_execution=steps_per_execution)
    if keras_step_function:
        keras.Model.make_train_function(gan, force=True)  # fit keeps a train function already made
    return fit_runner(gan, data, steps)


def hand_loop_runner(data, steps, seed, preset, filters=None):
    """(wall, CPU) seconds of ``steps`` steps of the hand-written loop: the preset's
    networks, loss, optimizers, discriminator steps, R1 penalty and EMA, written out."""
    keras.utils.set_random_seed(seed)
    settings = preset_settings("dcgan", preset)
    networks = build_dcgan(seed=seed, preset=preset, filters=filters)
    generator, discriminator, latent_dim = networks.generator, networks.discriminator, networks.latent_dim
    _, compiled = settings_arguments(settings)
    d_optimizer, g_optimizer = compiled["d_optimizer"], compiled["g_optimizer"]
    loss, ema = settings["loss"], settings["ema"]
    averaged = [tf.Variable(w) for w in generator.weights] if ema else []

    @tf.function
    def train_step(real):
        batch = tf.shape(real)[0]
        for _ in range(settings["d_steps"]):
            fake = generator(tf.random.normal((batch, latent_dim)), training=True)
            with tf.GradientTape() as tape:
                if settings["r1_weight"]:
                    r1, real_logits = r1_penalty(lambda x: discriminator(x, training=True), real)
                else:
                    r1, real_logits = 0.0, discriminator(real, training=True)
                d_loss = discriminator_loss(real_logits, discriminator(fake, training=True), loss)
                d_loss += 0.5 * settings["r1_weight"] * r1
            gradients = tape.gradient(d_loss, discriminator.trainable_weights)
            d_optimizer.apply_gradients(zip(gradients, discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            fake = generator(tf.random.normal((batch, latent_dim)), training=True)
            g_loss = generator_loss(discriminator(fake, training=True), loss)
        gradients = tape.gradient(g_loss, generator.trainable_weights)
        g_optimizer.apply_gradients(zip(gradients, generator.trainable_weights))
        if ema:
            t = tf.cast(g_optimizer.iterations, tf.float32)
            decay = tf.minimum(ema, (1.0 + t) / (10.0 + t))
            for average, weight in zip(averaged, generator.weights):
                average.assign(decay * average + (1.0 - decay) * weight if weight.trainable else weight)
        return d_loss, g_loss

    return loop_runner(train_step, data, steps)


def train_step_runner(data, steps, seed, preset, filters=None):
    """(wall, CPU) seconds of ``steps`` calls of ``GAN.train_step`` in the same loop: separates
    the cost of the step itself from the cost of ``fit``'s machinery."""
    keras.utils.set_random_seed(seed)
    gan = build_dcgan(seed=seed, preset=preset, filters=filters)
    return loop_runner(tf.function(gan.train_step), data, steps)


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=200, help="steps per timed round (and per warm-up)")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per variant, interleaved")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--filters", type=int, default=None,
                        help="D's first-layer width (default: the preset's); a tiny network (--filters 2 "
                             "--batch-size 8) shows fit's fixed cost per step")
    parser.add_argument("--steps-per-execution", type=int, default=20,
                        help="steps per call of the fit variant compiled with steps_per_execution (default: 20)")
    parser.add_argument("--preset", choices=sorted(PRESETS["dcgan"]), default="default",
                        help="the DCGAN settings measured (default: build_dcgan's defaults)")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds, args.steps_per_execution = 2, 1, 2
    if args.steps % args.steps_per_execution:
        parser.error(f"--steps must be a multiple of --steps-per-execution, got {args.steps} and "
                     f"{args.steps_per_execution}")
    settings = preset_settings("dcgan", args.preset)
    settings["filters"] = args.filters or settings["filters"]
    args.batch_size = args.batch_size or settings["batch_size"]
    data = datasets.load("fashion_mnist", value_range=(-1, 1), batch_size=args.batch_size, seed=args.seed,
                         limit=2 * args.steps * args.batch_size, drop_remainder=True).repeat()
    same = (data, args.steps, args.seed, args.preset, args.filters)  # every variant's data, steps and networks
    runners = {
        "GAN.fit": gan_fit_runner(*same),
        f"GAN.fit, compile(steps_per_execution={args.steps_per_execution})": gan_fit_runner(
            *same, steps_per_execution=args.steps_per_execution),
        "hand-written tf.function loop": hand_loop_runner(*same),
        "GAN.train_step in that loop": train_step_runner(*same),
        "GAN.fit with Keras's own train function": gan_fit_runner(*same, keras_step_function=True),
    }
    results = interleaved_rates(runners, args.rounds, args.steps * args.batch_size)
    head = dated_header("gan_throughput.py", sys.argv[1:] if argv is None else argv, args.seed,
                        "QUICK RUN (not a measurement)" if args.quick else None)
    protocol = (f"DCGAN preset {args.preset} ({describe_settings(settings)}; latent 100) on Fashion-MNIST, "
                f"batch {args.batch_size}, "
                f"median of {args.rounds} interleaved rounds of {args.steps} steps after one warm-up round each")
    name = "gan_throughput" if args.preset == "default" else f"gan_throughput_{args.preset}"
    name += f"_filters{args.filters}" if args.filters else ""
    write_throughput(args.out, name, head, protocol, results, "GAN.fit")


if __name__ == "__main__":
    main()
