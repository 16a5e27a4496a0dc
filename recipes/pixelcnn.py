"""PixelCNN (van den Oord et al. 2016): p(x) = prod_i p(x_i | x_1..x_{i-1}) with masked
convolutions, an exact likelihood trained by maximum likelihood, sampled pixel by pixel.

    python recipes/pixelcnn.py                              # bundled MNIST, binarized, no network
    python recipes/pixelcnn.py --conditional                # class-conditional: a row of samples per digit
    python recipes/pixelcnn.py --architecture gated         # Gated PixelCNN's two stacks: no blind spot
    python recipes/pixelcnn.py --gated --filters 64 --layers 7 --epochs 20
    python recipes/pixelcnn.py --levels 256 --dataset fashion_mnist   # a softmax over 256 grey levels

With --levels 2 (the default) pixels are binarized once with the seed (--binarize static,
as in the likelihood literature) and each pixel is a Bernoulli; with --levels 256 the
8-bit images are modelled as they are stored. The printed test NLL is exact (no bound):
nats per image and bits/dim, with the protocol beside it.

Writes to --out: samples.png (one row per class when conditional), training_curves.png,
model.keras; and exports the sampler (seed, num or label -> image) and the likelihood
(image -> nll) to saved_models/pixelcnn/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

import time

import numpy as np

from keras_gen import plotting
from keras_gen.autoregressive import exact_nll
from keras_gen.pixelcnn import ARCHITECTURES, build_pixelcnn
from keras_gen.recipes._common import _positive_int, prepare, recipe_parser, save_and_export

PUBLISHED = ("published anchor: 81.30 nats, PixelCNN on statically binarized MNIST "
             "(van den Oord et al. 2016; 60,000 train images)")


def main(argv=None):
    parser = recipe_parser(__doc__, "pixelcnn", epochs=5, batch_size=64)
    parser.add_argument("--levels", type=int, choices=(2, 256), default=2,
                        help="2: binarized pixels, Bernoulli output (default); 256: 8-bit pixels, softmax")
    parser.add_argument("--binarize", choices=("static", "dynamic"), default="static",
                        help="binarization of the train split for --levels 2 (the test split is always static)")
    parser.add_argument("--filters", type=_positive_int, default=32, help="feature maps per layer (default: 32)")
    parser.add_argument("--layers", type=_positive_int, default=8, help="number of residual blocks (default: 8)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="pixelcnn",
                        help="pixelcnn: one stack of masked convolutions (has a blind spot); gated: Gated PixelCNN's "
                             "vertical and horizontal stacks, no blind spot (default: pixelcnn)")
    parser.add_argument("--gated", action="store_true",
                        help="gated activations tanh(.) * sigmoid(.) in the one-stack PixelCNN (implied by "
                             "--architecture gated)")
    parser.add_argument("--no-residual", action="store_true", help="no skip connections around the blocks")
    parser.add_argument("--conditional", action="store_true", help="condition on the class label")
    parser.add_argument("--samples", type=_positive_int, default=64, help="images in samples.png (default: 64)")
    args = parser.parse_args(argv)
    binarize = args.binarize if args.levels == 2 else None
    data = prepare(args, labels=True, binarize=binarize)

    model = build_pixelcnn(data.image_shape, levels=args.levels, filters=args.filters, num_layers=args.layers,
                           gated=args.gated, residual=not args.no_residual, architecture=args.architecture,
                           num_classes=len(data.info.class_names) if args.conditional else None)
    model.summary()
    history = model.fit(data.train, epochs=args.epochs, validation_data=data.test)

    result = exact_nll(model, data.test, marginal=model.conditional)
    pixels = "binarized: " + ("static train / static test" if binarize == "static" else
                              "dynamic train / static test") if binarize else "256 levels, as stored"
    given = " -log p(x|y), given the label" if model.conditional else ""
    print(f"test NLL: {result['nll']:.2f} nats/image (+- {result['nll_std_error']:.2f} s.e.; "
          f"{result['bits_per_dim']:.4f} bits/dim), exact{given}; mean over {result['num_images']} "
          f"{data.test_info.name} test images ({pixels}, seed {args.seed}); {args.epochs} epochs on "
          f"{data.info.num_examples} train images, filters {args.filters}, {args.layers} "
          f"{'gated ' if args.gated else ''}{'plain' if args.no_residual else 'residual'} blocks, "
          f"batch {args.batch_size}, seed {args.seed}")
    if model.conditional:
        print(f"test NLL of the class mixture, -log p(x) = -log mean_y p(x|y) (uniform prior over the "
              f"{model.num_classes} classes): {result['marginal_nll']:.2f} nats/image "
              f"({result['marginal_bits_per_dim']:.4f} bits/dim), exact; same images and protocol")
    if args.levels == 2 and data.info.name == "mnist":
        print(f"({PUBLISHED})")

    start = time.perf_counter()
    if model.conditional:
        per_class = max(1, -(-args.samples // model.num_classes))
        names = data.test_info.class_names
        rows = {names[k]: model.generate([k] * per_class, seed=args.seed + k) for k in range(model.num_classes)}
        count = per_class * model.num_classes
        plotting.plot_image_rows(rows, title=f"PixelCNN samples by class (seed {args.seed})",
                                 path=data.out / "samples.png", cell_inches=0.8)
    else:
        images = model.sample(args.samples, seed=args.seed)
        count = len(images)
        plotting.plot_image_grid(images, title=f"PixelCNN samples (seed {args.seed})", path=data.out / "samples.png")
    print(f"sampled {count} images in {time.perf_counter() - start:.1f} s (one compiled loop over "
          f"{int(np.prod(model.image_shape))} pixel steps, tracing included)")

    save_and_export(model, history, data, args)
    return result


if __name__ == "__main__":
    main()
