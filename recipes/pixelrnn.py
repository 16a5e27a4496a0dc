"""PixelRNN (van den Oord et al. 2016a), the Row LSTM or the Diagonal BiLSTM:
p(x) = prod_i p(x_i | x_1..x_{i-1}) with LSTM layers that run over the image (row by row,
or diagonal by diagonal in two directions), an exact likelihood trained by maximum
likelihood, sampled pixel by pixel with the LSTM states carried.

    python recipes/pixelrnn.py                              # Row LSTM, bundled MNIST, binarized, no network
    python recipes/pixelrnn.py --kind diagonal_bilstm       # sees every previous pixel; slower to train
    python recipes/pixelrnn.py --conditional                # class-conditional: a row of samples per digit
    python recipes/pixelrnn.py --layers 7 --hidden 32 --epochs 10

Pixels are binarized once with the seed (--binarize static, as in the likelihood
literature) with --levels 2, each pixel a Bernoulli; --levels 256 models 8-bit images as
stored. The printed test NLL is exact (no bound): nats per image and bits/dim, with the
protocol beside it.

Writes to --out: samples.png (one row per class when conditional), training_curves.png,
model.keras; and exports the sampler (seed, num or label -> image) and the likelihood
(image -> nll) to saved_models/pixelrnn/<next version>/.
"""

from keras_gen_cli import quiet_tensorflow  # isort: skip

quiet_tensorflow()  # before TensorFlow loads: this script shows its own output, not TensorFlow's start-up lines

from keras_gen.pixelrnn import KINDS, build_pixelrnn
from keras_gen.recipes._common import (
    _positive_int,
    add_autoregressive_flags,
    finish_autoregressive,
    for_training,
    prepare,
    recipe_parser,
)

PUBLISHED = ("published anchor: Row LSTM not reported on MNIST; Diagonal BiLSTM 79.20 nats on statically "
             "binarized MNIST (van den Oord et al. 2016; 60,000 train images)")


def main(argv=None):
    parser = recipe_parser(__doc__, "pixelrnn", epochs=3, batch_size=64)
    parser.add_argument("--kind", choices=KINDS, default="row_lstm", help="the LSTM layer (default: row_lstm)")
    parser.add_argument("--layers", type=_positive_int, default=4, help="LSTM layers (default: 4)")
    parser.add_argument("--hidden", type=_positive_int, default=16,
                        help="features of every layer and LSTM state (default: 16)")
    args = add_autoregressive_flags(parser).parse_args(argv)
    binarize = args.binarize if args.levels == 2 else None
    data = prepare(args, labels=True, binarize=binarize)

    model = build_pixelrnn(data.image_shape, kind=args.kind, layers_count=args.layers, hidden=args.hidden,
                           levels=args.levels, num_classes=len(data.info.class_names) if args.conditional else None)
    model.summary()
    history = for_training(model, args).fit(data.train, epochs=args.epochs, validation_data=data.test)
    settings = f"{args.kind}, {args.layers} layers, hidden {args.hidden}"
    return finish_autoregressive(model, history, data, args, binarize, settings,
                                 PUBLISHED if args.levels == 2 and data.info.name == "mnist" else None)


if __name__ == "__main__":
    main()
