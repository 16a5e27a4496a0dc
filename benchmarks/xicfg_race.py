"""The lectures' comparison, on this machine: xICFG (conv and fully connected
approximators) against keras_gen's DCGAN (GAN0 with the log-D trick: the non-saturating
loss) and WGAN-GP, on all of Fashion-MNIST, the same wall-clock training budget for each,
scored at several points.

    python benchmarks/xicfg_race.py                          # 1,200 s each: about 50 minutes
    python benchmarks/xicfg_race.py --budget-seconds 60 --out /tmp/race   # a short run

Two ``harness.py`` processes run at once, each pinned to one core (``taskset``) with one
TensorFlow thread: core 0 trains xicfg_conv then dcgan, core 1 xicfg_dense then wgan_gp.
So every method gets one core for the same training time, while the other core is busy
too. Each model is scored at --eval-points times (the harness's protocol: 2,000 samples,
the same z each time, against 2,000 test images, on the shipped domain classifier's
features): FID, KID, classifier score, diversity score exp(-KL(generated || real class
histogram)) and classes covered.

Writes --out/xicfg_race.{md,json,png} (quality against time) and --out/xicfg_race/
(<model>_samples.png at the end, and each process's harness output).
"""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from matplotlib.figure import Figure  # noqa: E402

from common import benchmark_parser, dated_header, write_results  # noqa: E402

LANES = (("xicfg_conv", "dcgan"), ("xicfg_dense", "wgan_gp"))  # models per core, in order
PANELS = (("fid", "FID (lower is better)"), ("kid", "KID (lower is better)"),
          ("classifier_score", "classifier score (higher is better)"),
          ("diversity_score", "diversity score (higher is better)"))


def run_lanes(args, folder):
    """Runs the two harness processes at once and returns their rows (one per model)."""
    harness = Path(__file__).resolve().parent / "harness.py"
    processes = []
    for core, models in enumerate(LANES):
        lane = folder / f"core{core}"
        command = ["taskset", "-c", str(core), sys.executable, str(harness), "--models", *models, "--threads", "1",
                   "--budget-seconds", str(args.budget_seconds), "--eval-points", str(args.eval_points),
                   "--num-samples", str(args.num_samples), "--seed", str(args.seed), "--sample-grids",
                   "--out", str(lane)]
        log = open(folder / f"core{core}.log", "w")  # noqa: SIM115 (closed below)
        processes.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log, lane))
        print(" ".join(command), flush=True)
    rows = []
    for process, log, lane in processes:
        code = process.wait()
        log.close()
        if code != 0:
            raise SystemExit(f"error: {' '.join(map(str, process.args))} exited with {code}; see {log.name}")
        rows += json.loads((lane / "harness.json").read_text())["models"]
        for grid in lane.glob("*_samples.png"):
            shutil.copy(grid, folder / grid.name)
    order = [name for lane in LANES for name in lane]
    return sorted(rows, key=lambda r: order.index(r["model"]))


def markdown(rows, head, args):
    lines = [head, "", f"Fashion-MNIST (Debian), {rows[0]['train_images']:,} train images; {args.budget_seconds:g} s "
             "of training per model on one core (two models at a time, one per core), scored at "
             f"{args.eval_points} points; {args.num_samples:,} samples against as many test images, domain-classifier "
             "features.", "",
             "| model | settings | images/s | train images seen | training steps | final FID | KID | CS | DS | "
             "classes |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        f = r["final"]
        lines.append(f"| {r['model']} | {r['settings']} | {r['images_per_s']:,.0f} | {r['images_seen']:,} | "
                     f"{r['steps']:,} | {f['fid']:.2f} | {f['kid']:.3f} | {f['classifier_score']:.2f} | "
                     f"{f['diversity_score']:.3f} | {f['classes_covered']}/{f['num_classes']} |")
    lines += ["", "Quality at each point (training seconds: FID / diversity score / classes covered):", ""]
    for r in rows:
        points = "; ".join(f"{p['train_seconds']:.0f} s: {p['fid']:.1f} / {p['diversity_score']:.2f} / "
                           f"{p['classes_covered']}" for p in r["points"])
        lines.append(f"- {r['model']}: {points}")
    lines += ["", "Protocol: the harness's (see benchmarks/results/harness.md): training time excludes the first "
              "step (tracing; for xICFG also its initial fit of G~ to a random projection, shown as 'first step "
              "s' in xicfg_race/core*/harness.md) and the scoring. CS: classifier score; DS: diversity score "
              "exp(-KL(Pr(y) || Pr*(y))) of the classifier's class histograms (one pseudo-count per class). "
              "Not InceptionV3 features: not comparable with published numbers.", ""]
    return "\n".join(lines) + "\n"


def plot(rows, path):
    fig = Figure(figsize=(12.0, 8.0), layout="constrained")
    for ax, (key, label) in zip(fig.subplots(2, 2).ravel(), PANELS):
        for r in rows:
            ax.plot([p["train_seconds"] / 60 for p in r["points"]], [p[key] for p in r["points"]], marker="o",
                    label=f"{r['model']} ({r['images_per_s']:,.0f} images/s)")
        ax.set_xlabel("training time on one core (minutes)")
        ax.set_ylabel(label)
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("xICFG against DCGAN and WGAN-GP on Fashion-MNIST, same training time each")
    fig.savefig(path, dpi=100)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = benchmark_parser(__doc__)
    parser.add_argument("--budget-seconds", type=float, default=1200.0,
                        help="training wall time per model (default: 1200)")
    parser.add_argument("--eval-points", type=int, default=6, help="scorings per model (default: 6)")
    parser.add_argument("--num-samples", type=int, default=2000, help="samples and test images per score")
    args = parser.parse_args(argv)
    if args.quick:
        args.budget_seconds, args.eval_points, args.num_samples = 5.0, 2, 200
    if shutil.which("taskset") is None:
        raise SystemExit("error: taskset (util-linux) is needed to pin each process to one core")
    folder = args.out / "xicfg_race"
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = run_lanes(args, folder)
    head = dated_header("xicfg_race.py", argv, args.seed, "QUICK RUN (not a measurement)" if args.quick else None)
    table = markdown(rows, head, args)
    print(table)
    write_results(args.out, "xicfg_race", table, {"header": head, "budget_seconds": args.budget_seconds,
                                                  "total_seconds": round(time.perf_counter() - started, 1),
                                                  "models": rows})
    plot(rows, args.out / "xicfg_race.png")
    print(f"wrote {args.out / 'xicfg_race.png'} and sample grids in {folder}/")


if __name__ == "__main__":
    main()
