"""xICFG training throughput: ``XICFG.fit`` against a plain hand-written loop of the same
algorithm with ``tf.function`` steps.

    python benchmarks/xicfg_throughput.py                  # 3 rounds of 2 episodes, batch 64
    python benchmarks/xicfg_throughput.py --episodes 4 --rounds 5

Both train the same networks (``build_xicfg``, conv approximator, T=15, U=1, eta=0.5,
seed 0) on Fashion-MNIST in [-1, 1], with the same work per step: one discriminator update
on the real batch against the stage's generator (G~ and the functional steps of the stages
done so far), D's weights kept at each stage's end, and at each episode's end the grown
generator on a pool of 10 x batch latent vectors and 10 passes of approximator updates
(learning rate divided by 10 when a pass's loss rises, at most 3 times). The loop is what
a person would write: a Python loop over steps and passes calling compiled functions, one
traced generator per stage count, the learning-rate rule in Python. A round is a whole
number of episodes, so both do the same number of approximator fits. After one warm-up
round each (tracing), the variants run --rounds timed rounds, interleaved. Reported: the
median real images/s (wall clock) and CPU time per image. Results go to
benchmarks/results/xicfg_throughput.{md,json}.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import benchmark_parser, fit_runner, header, interleaved_rates, write_throughput  # noqa: E402
from keras_gen import datasets  # noqa: E402
from keras_gen.losses import discriminator_loss  # noqa: E402
from keras_gen.xicfg import build_xicfg  # noqa: E402


def xicfg_fit_runner(data, steps, seed):
    """(wall, CPU) seconds of ``steps`` steps of ``XICFG.fit``."""
    keras.utils.set_random_seed(seed)
    model = build_xicfg(seed=seed)
    model.fit(data, epochs=1, steps_per_epoch=1, verbose=0)  # the initial projection fit, outside the timing
    return fit_runner(model, data, steps)


def hand_loop_runner(data, steps, seed, batch_size):
    """(wall, CPU) seconds of ``steps`` steps of the hand-written loop."""
    keras.utils.set_random_seed(seed)
    model = build_xicfg(seed=seed)  # for its networks and settings only
    approximator, discriminator = model.approximator, model.discriminator
    stages, eta, latent_dim, pool = model.stages, model.eta, model.latent_dim, 10 * batch_size
    d_optimizer = keras.optimizers.RMSprop(2.5e-4, rho=0.95, epsilon=1e-8)
    a_optimizer = keras.optimizers.RMSprop(2.5e-4, rho=0.95, epsilon=1e-8)
    history = [[tf.Variable(w) for w in discriminator.weights] for _ in range(stages)]
    trainable = len(discriminator.trainable_weights)

    @tf.function
    def grow(z, count):  # count is a Python int: one trace per stage
        x = approximator(z, training=False)
        for t in range(count):
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits, _ = discriminator.stateless_call(history[t][:trainable], history[t][trainable:], x)
                total = tf.reduce_sum(logits)
            x = x + eta * tape.gradient(total, x)
        return x

    @tf.function
    def d_step(real, count):
        fake = grow(tf.random.normal((tf.shape(real)[0], latent_dim)), count)
        with tf.GradientTape() as tape:
            loss = discriminator_loss(discriminator(real, training=True), discriminator(fake, training=True))
        gradients = tape.gradient(loss, discriminator.trainable_weights)
        d_optimizer.apply_gradients(zip(gradients, discriminator.trainable_weights))
        return loss

    @tf.function
    def approximator_step(z, target):
        with tf.GradientTape() as tape:
            error = tf.reshape(approximator(z, training=True) - target, [tf.shape(z)[0], -1])
            loss = 0.5 * tf.reduce_mean(tf.reduce_sum(tf.square(error), axis=1))
        gradients = tape.gradient(loss, approximator.trainable_weights)
        a_optimizer.apply_gradients(zip(gradients, approximator.trainable_weights))
        return loss

    def approximate():
        z = tf.random.normal((pool, latent_dim))
        targets = grow(z, stages)
        a_optimizer.learning_rate.assign(2.5e-4)
        for slot in a_optimizer.variables[2:]:  # a fresh optimizer state: all but iterations, learning rate
            slot.assign(tf.zeros_like(slot))
        last, reductions = np.inf, 0
        for _ in range(10):
            order = tf.random.shuffle(tf.range(pool))
            losses = [approximator_step(tf.gather(z, i), tf.gather(targets, i))
                      for i in tf.split(order, pool // batch_size)]
            loss = float(tf.reduce_mean(losses))
            if loss > last and reductions < 3:
                a_optimizer.learning_rate.assign(a_optimizer.learning_rate / 10.0)
                reductions += 1
            last = loss

    batches, stage = iter(data), [0]

    def run():
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(steps):
            d_step(next(batches), stage[0])
            for kept, weight in zip(history[stage[0]], discriminator.weights):
                kept.assign(weight)
            stage[0] += 1
            if stage[0] == stages:
                approximate()
                stage[0] = 0
        float(d_optimizer.iterations.numpy())  # wait for the last step
        return time.perf_counter() - start, time.process_time() - cpu_start

    return run


def main(argv=None):
    parser = benchmark_parser(__doc__)
    parser.add_argument("--episodes", type=int, default=2, help="episodes per timed round (and per warm-up)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per variant, interleaved")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    if args.quick:
        args.episodes, args.rounds = 1, 1
    steps = args.episodes * 15
    data = datasets.load("fashion_mnist", value_range=(-1, 1), batch_size=args.batch_size, seed=args.seed,
                         limit=2 * steps * args.batch_size, drop_remainder=True).repeat()
    runners = {"XICFG.fit": xicfg_fit_runner(data, steps, args.seed),
               "hand-written tf.function loop": hand_loop_runner(data, steps, args.seed, args.batch_size)}
    results = interleaved_rates(runners, args.rounds, steps * args.batch_size)
    head = header("xicfg_throughput.py", args.seed, args.quick)
    protocol = (f"xICFG (conv approximator, filters 64, latent 100, T 15, U 1) on Fashion-MNIST, batch "
                f"{args.batch_size}, median of {args.rounds} interleaved rounds of {args.episodes} episodes "
                f"({steps} steps) after one warm-up round each")
    write_throughput(args.out, "xicfg_throughput", head, protocol, results, "XICFG.fit")


if __name__ == "__main__":
    main()
