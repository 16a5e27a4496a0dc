"""Multi-worker training on one machine: images/s of ``fit`` for the DCGAN and the VAE
with one process against two worker processes (``MultiWorkerMirroredStrategy`` on
127.0.0.1), at the same global batch.

    python benchmarks/distributed.py                 # DCGAN batch 64, VAE batch 128, 30 timed steps
    python benchmarks/distributed.py --quick         # checks the script, measures nothing

Configurations, each in fresh processes, one after the other (global batch B):

- ``1 process, 1 core``: 1 TensorFlow thread, pinned to core 0 (``os.sched_setaffinity``
  and ``tf.config.threading``): the per-core baseline.
- ``1 process, 2 cores``: 2 threads on both cores: what one process makes of the machine.
- ``1 process, 1 core, B/2``: one worker's share of the work alone, no all-reduce.
- ``2 workers, 1 core each``: two processes, each pinned to its own core with 1 thread,
  B/2 per worker, gradients summed by a collective all-reduce over gRPC on 127.0.0.1.

Each runs one epoch of ``--steps`` steps to trace, then ``--steps`` timed steps (the
chief's wall time). Reported: images/s, milliseconds per step, the all-reduce's cost
per step (two workers' step time minus the step time of one core on B/2, i.e. what the
collectives and the lock-step add) and the scaling efficiency (two workers' images/s over
twice one core's). Data: the bundled MNIST images (the rate does not depend on them).
Results go to benchmarks/results/distributed.{md,json}.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FAMILIES = {"dcgan": 64, "vae": 128}  # the recipes' default batch sizes


def measure(family, batch, steps, threads, cores, seed):
    """Runs in a worker process: returns seconds of ``steps`` timed steps and the params."""
    os.sched_setaffinity(0, cores)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras_gen import distribute

    strategy = distribute.make_strategy("multi_worker" if "TF_CONFIG" in os.environ else "none", timeout=120)
    import keras

    from common import EpochTimer
    from keras_gen import build_dcgan, build_vae, datasets

    keras.utils.set_random_seed(seed)
    value_range = (-1.0, 1.0) if family == "dcgan" else (0.0, 1.0)
    data = datasets.load("mnist", split="test", batch_size=batch, labels=True, value_range=value_range, seed=seed,
                         limit=batch * steps, drop_remainder=True).repeat()
    with strategy.scope():
        model = build_dcgan(seed=seed) if family == "dcgan" else build_vae(seed=seed)
    timer = EpochTimer()
    model.fit(data, epochs=2, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    params = sum(int(w.shape.num_elements()) for w in model.trainable_weights)
    return {"seconds": timer.seconds[1], "params": params}


def run_config(family, batch, steps, threads, core_sets, seed):
    """One configuration in fresh processes (one per entry of ``core_sets``); returns the chief's result."""
    from keras_gen.distribute import local_cluster

    configs = local_cluster(len(core_sets))
    processes = []
    for index, cores in enumerate(core_sets):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_GEN_OFFLINE": "1"}
        if len(core_sets) > 1:
            env["TF_CONFIG"] = configs[index]
        command = [sys.executable, __file__, "--measure", json.dumps(
            {"family": family, "batch": batch, "steps": steps, "threads": threads, "cores": cores, "seed": seed})]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=1800) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        if p.returncode != 0:
            raise SystemExit(f"a measuring process failed:\n{err[-3000:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--measure":
        sys.path.insert(0, str(Path(__file__).parent))
        options = json.loads(sys.argv[2])
        print(json.dumps(measure(options["family"], options["batch"], options["steps"], options["threads"],
                                 set(options["cores"]), options["seed"])))
        return
    from common import benchmark_parser, dated_header, write_results

    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per configuration (default: 30)")
    args = parser.parse_args()
    steps = 2 if args.quick else args.steps
    head = dated_header("distributed.py", sys.argv[1:], args.seed,
                        "QUICK RUN (not a measurement)" if args.quick else None)
    rows, payload = [], {"header": head, "steps": steps, "results": {}}
    for family, batch in FAMILIES.items():
        configs = {
            "1 process, 1 core": (batch, 1, [[0]]),
            "1 process, 2 cores": (batch, 2, [[0, 1]]),
            "1 process, 1 core, B/2": (batch // 2, 1, [[0]]),
            "2 workers, 1 core each": (batch, 1, [[0], [1]]),
        }
        results = {}
        for name, (config_batch, threads, core_sets) in configs.items():
            result = run_config(family, config_batch, steps, threads, core_sets, args.seed)
            result["images_per_s"] = round(config_batch * steps / result["seconds"], 1)
            result["ms_per_step"] = round(1000 * result["seconds"] / steps, 1)
            results[name] = result
            print(f"{family} {name}: {result['images_per_s']} images/s, {result['ms_per_step']} ms/step", flush=True)
        two, one = results["2 workers, 1 core each"], results["1 process, 1 core"]
        half = results["1 process, 1 core, B/2"]
        summary = {
            "all_reduce_ms_per_step": round(two["ms_per_step"] - half["ms_per_step"], 1),
            "scaling_efficiency": round(two["images_per_s"] / (2 * one["images_per_s"]), 3),
            "gradient_megabytes_per_step": round(4 * one["params"] / 1e6, 2),
        }
        payload["results"][family] = {"global_batch": batch, "configs": results, **summary}
        for name, r in results.items():
            rows.append(f"| {family} | {name} | {r['images_per_s']} | {r['ms_per_step']} |")
        rows.append(f"| {family} | all-reduce cost per step; scaling efficiency | "
                    f"{summary['scaling_efficiency']:.2f} (efficiency) | {summary['all_reduce_ms_per_step']} ms |")
    table = "\n".join([head, "", "| model (global batch) | configuration | images/s | ms per step |",
                       "| --- | --- | --- | --- |", *rows]) + "\n"
    print(table)
    write_results(args.out, "distributed", table, payload)


if __name__ == "__main__":
    main()
