"""xICFG (Johnson and Zhang 2018): a generator grown by functional gradient steps
x <- x + eta * grad D(x) toward where a logistic discriminator D says real images are,
and folded back every episode into a fixed-size approximator G~.

    python recipes/xicfg.py                                   # bundled MNIST, dense G~, 5 epochs: ~14 minutes
    python recipes/xicfg.py --dataset fashion_mnist --epochs 3
    python recipes/xicfg.py --approximator conv               # the authors' conv G~ (DCGAN generator), T=15, eta=0.5

The recipe's default approximator is the fully connected one (T=25, eta=2.5), unlike
``build_xicfg``'s (the authors' conv default): in benchmarks/xicfg_race.py on this CPU it
reached FID 77 in 20 minutes where the conv approximator reached 121.

Each training step is one discriminator update on one batch; every --stages steps an
episode ends and G~ is fitted to the grown generator on a pool of 10 x batch latent
vectors. Images are scaled to [-1, 1]. A grid of samples from fixed noise is written every
--sample-every epochs; training stops with a message if a value turns NaN or inf, or if
|mean D(real) - mean D(gen)| exceeds --max-d-gap (the last good generator is kept).

Writes to --out: samples_epoch_NNN.png, samples.png (the method's generator: G~ and the
last episode's T steps), approximator_samples.png (G~ alone), interpolation.png,
training_curves.png, model.keras; and exports the generator (z -> image in [0, 1]) to
saved_models/xicfg/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen import build_xicfg, plotting
from keras_gen.recipes._common import add_gan_flags, finish_gan, for_training, gan_callbacks, prepare, recipe_parser
from keras_gen.xicfg import APPROXIMATORS, ETA, STAGES


def main(argv=None):
    parser = recipe_parser(__doc__, "xicfg", epochs=5, latent_dim=100, batch_size=64)
    parser = add_gan_flags(parser)
    parser.add_argument("--approximator", choices=APPROXIMATORS, default="dense",
                        help="G~: a DCGAN generator (conv) or a fully connected network with shortcuts (dense) "
                             "(default: dense, the faster learner on a CPU: see benchmarks/results/xicfg_race.md)")
    parser.add_argument("--eta", type=float, default=None,
                        help=f"functional step size (default: {ETA['conv']} conv, {ETA['dense']} dense)")
    parser.add_argument("--stages", type=int, default=None,
                        help=f"T, stages per episode (default: {STAGES['conv']} conv, {STAGES['dense']} dense)")
    parser.add_argument("--d-updates", type=int, default=1, help="U, discriminator updates per stage (default: 1)")
    parser.add_argument("--filters", type=int, default=64, help="width of the DCGAN networks (default: 64)")
    parser.add_argument("--max-d-gap", type=float, default=40.0,
                        help="stop when |mean D(real) - mean D(gen)| exceeds this (default: 40)")
    args = parser.parse_args(argv)
    data = prepare(args, labels=True, value_range=(-1.0, 1.0))
    try:
        model = build_xicfg(data.image_shape, latent_dim=args.latent_dim, approximator=args.approximator,
                            filters=args.filters, stages=args.stages, eta=args.eta, seed=args.seed,
                            d_updates=args.d_updates, max_d_gap=args.max_d_gap)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    model.approximator.summary()
    model.discriminator.summary()
    callbacks, stop = gan_callbacks(args, model, data)
    history = for_training(model, args).fit(data.train, epochs=args.epochs, callbacks=callbacks)
    plotting.plot_image_grid(model.to_unit(model.approximator_images(model.latent_vectors(64, seed=args.seed))),
                             path=data.out / "approximator_samples.png",
                             title=f"G~ alone after {int(model.episode.numpy())} episodes (seed {args.seed})")
    settings = (f"approximator {args.approximator}, eta {model.eta:g}, T {model.stages}, U {model.d_updates}, "
                f"{int(model.episode.numpy())} episodes")
    return finish_gan(model, history, stop, data, args, settings=settings)


if __name__ == "__main__":
    main()
