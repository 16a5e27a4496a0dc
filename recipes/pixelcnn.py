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

from keras_gen.pixelcnn import ARCHITECTURES, build_pixelcnn
from keras_gen.recipes._common import (
    _positive_int,
    add_autoregressive_flags,
    finish_autoregressive,
    for_training,
    prepare,
    recipe_parser,
)

PUBLISHED = ("published anchor: 81.30 nats, PixelCNN on statically binarized MNIST "
             "(van den Oord et al. 2016; 60,000 train images)")


def main(argv=None):
    parser = recipe_parser(__doc__, "pixelcnn", epochs=5, batch_size=64)
    parser.add_argument("--filters", type=_positive_int, default=32, help="feature maps per layer (default: 32)")
    parser.add_argument("--layers", type=_positive_int, default=8, help="number of residual blocks (default: 8)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="pixelcnn",
                        help="pixelcnn: one stack of masked convolutions (has a blind spot); gated: Gated PixelCNN's "
                             "vertical and horizontal stacks, no blind spot (default: pixelcnn)")
    parser.add_argument("--gated", action="store_true",
                        help="gated activations tanh(.) * sigmoid(.) in the one-stack PixelCNN (implied by "
                             "--architecture gated)")
    parser.add_argument("--no-residual", action="store_true", help="no skip connections around the blocks")
    args = add_autoregressive_flags(parser).parse_args(argv)
    binarize = args.binarize if args.levels == 2 else None
    data = prepare(args, labels=True, binarize=binarize)

    model = build_pixelcnn(data.image_shape, levels=args.levels, filters=args.filters, num_layers=args.layers,
                           gated=args.gated, residual=not args.no_residual, architecture=args.architecture,
                           num_classes=len(data.info.class_names) if args.conditional else None)
    model.summary()
    history = for_training(model, args).fit(data.train, epochs=args.epochs, validation_data=data.test)

    settings = (f"filters {args.filters}, {args.layers} {'gated ' if args.gated else ''}"
                f"{'plain' if args.no_residual else 'residual'} blocks, architecture {args.architecture}")
    return finish_autoregressive(model, history, data, args, binarize, settings,
                                 PUBLISHED if args.levels == 2 and data.info.name == "mnist" else None)


if __name__ == "__main__":
    main()
