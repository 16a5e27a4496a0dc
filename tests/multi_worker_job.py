"""One worker of the multi-worker tests (tests/test_distribute.py), or the same training
on one process: ``python tests/multi_worker_job.py OUT [--backup DIR [--kill-at-epoch E]
[--reference DIR]]`` with ``TF_CONFIG`` set for a worker. Trains every trainable family,
tiny, on real images (with ``--backup``: only the DCGAN, under ``ChiefBackupAndRestore``)
and writes weights and histories to ``OUT/<task index>.npz``/``.json``."""

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

from keras_gen import distribute

EPOCHS = 2
RESUME_EPOCHS = 4
GLOBAL_BATCH = 16


# family -> (epochs, data range, binarize): the VAE and the DCGAN for EPOCHS epochs, the
# other families for one (a check that their steps run and agree, kept short)
FAMILIES = {"vae": (EPOCHS, (0.0, 1.0), None), "dcgan": (EPOCHS, (-1.0, 1.0), None),
            "conditional_vae": (1, (0.0, 1.0), None), "conditional_gan": (1, (-1.0, 1.0), None),
            "wgan_gp": (1, (-1.0, 1.0), None), "pixelcnn": (1, (0.0, 1.0), "static"),
            "pixelrnn": (1, (0.0, 1.0), "static"),
            "dense_autoencoder": (1, (0.0, 1.0), None)}


def data(value_range, binarize=None, pairs=False):
    from keras_gen import datasets

    train = datasets.load("mnist", split="test", limit=64, batch_size=GLOBAL_BATCH, labels=True, shuffle=True,
                          value_range=value_range, binarize=binarize, seed=0)
    return datasets.as_autoencoder_pairs(train) if pairs else train


def build(family):
    import keras

    from keras_gen import (
        build_conditional_gan,
        build_conditional_vae,
        build_dcgan,
        build_dense_autoencoder,
        build_pixelcnn,
        build_pixelrnn,
        build_vae,
        build_wgan_gp,
    )

    keras.utils.set_random_seed(0)
    builders = {
        "vae": lambda: build_vae(latent_dim=2, hidden_units=(32,), seed=0),
        # Adam 8e-4, not the default's 1.2e-3: larger steps amplify the float32 round-off of
        # near-zero Adam entries past the test's atol (1.8e-4 at 1.2e-3, 4.3e-7 at 8e-4); float32,
        # not the default's bfloat16 on a bfloat16 CPU, whose round-off differs with the per-replica batch
        "dcgan": lambda: build_dcgan(latent_dim=8, filters=8, seed=0, precision="float32",
                                     d_optimizer=keras.optimizers.Adam(8e-4, 0.5),
                                     g_optimizer=keras.optimizers.Adam(8e-4, 0.5)),
        "conditional_vae": lambda: build_conditional_vae(latent_dim=2, hidden_units=(16,), seed=0),
        "conditional_gan": lambda: build_conditional_gan(latent_dim=8, filters=8, embedding_dim=4, seed=0),
        "wgan_gp": lambda: build_wgan_gp(latent_dim=8, filters=8, seed=0, d_steps=2),  # the gradient penalty
        "pixelcnn": lambda: build_pixelcnn(filters=8, num_layers=2),
        "pixelrnn": lambda: build_pixelrnn(kind="diagonal_bilstm", layers_count=1, hidden=4),
        "dense_autoencoder": lambda: build_dense_autoencoder(latent_dim=8)[0],
    }
    return builders[family]()


def train(strategy):
    """Every family of ``FAMILIES`` on 64 shuffled images in global batches of 16.
    Returns ``{family: (weights, history)}``."""
    out = {}
    for family, (epochs, value_range, binarize) in FAMILIES.items():
        with strategy.scope():
            model = build(family)
        train = data(value_range, binarize, pairs=family == "dense_autoencoder")
        history = model.fit(train, epochs=epochs, verbose=0).history
        out[family] = ([w.numpy() for w in model.weights], history)
    return out


class KillAt:
    """A callback that kills this process (SIGKILL, no clean-up) at the second batch of an epoch."""

    def __new__(cls, epoch):
        import keras

        class Kill(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if self.epoch == epoch and batch == 1:
                    os.kill(os.getpid(), signal.SIGKILL)

            def on_epoch_begin(self, current, logs=None):
                self.epoch = current

        return Kill()


def train_with_backup(strategy, backup_dir, kill_at=None):
    """The DCGAN for ``RESUME_EPOCHS`` epochs on shuffled images, backed up every epoch."""
    from keras_gen.callbacks import ChiefBackupAndRestore

    with strategy.scope():
        model = build("dcgan")
    train = data((-1.0, 1.0))
    callbacks = [ChiefBackupAndRestore(backup_dir, data=train)] + ([KillAt(kill_at)] if kill_at is not None else [])
    history = model.fit(train, epochs=RESUME_EPOCHS, callbacks=callbacks, verbose=0).history
    return {"dcgan": ([w.numpy() for w in model.weights], history)}


def save(results, path):
    arrays = {f"{family}_{i}": w for family, (weights, _) in results.items() for i, w in enumerate(weights)}
    np.savez(path.with_suffix(".npz"), **arrays)
    path.with_suffix(".json").write_text(json.dumps({f: h for f, (_, h) in results.items()}))


def main():
    out = Path(sys.argv[1])
    options = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    strategy = distribute.make_strategy("multi_worker", timeout=60)
    index = distribute.worker_id(strategy)[1]
    if "--backup" in options:
        kill_at = int(options["--kill-at-epoch"]) if "--kill-at-epoch" in options else None
        results = train_with_backup(strategy, options["--backup"], kill_at if index == 1 else None)
        if "--reference" in options:  # the same training uninterrupted, by the same two workers
            save(train_with_backup(strategy, options["--reference"]), out / f"{index}_reference")
    else:
        results = train(strategy)
        with strategy.scope():  # a global batch of 15 cannot be split over 2 workers
            model = build("vae")
        try:
            model.fit(np.zeros((30, 28, 28, 1), np.float32), batch_size=15, epochs=1, verbose=0)
        except distribute.DistributeError as err:
            print(f"REFUSED {err}", flush=True)
    save(results, out / str(index))
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
