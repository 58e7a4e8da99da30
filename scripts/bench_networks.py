"""Real networks end to end, measured like a user: tune, build, check, time.

Each network is a torchvision model definition with random weights whose BatchNorm
statistics come from a batch of random images (so activations keep a realistic magnitude
instead of vanishing), exported by PyTorch's own ONNX exporter (opset 17, batch 1,
224x224). Then, in one run on an otherwise idle machine:

1. ``autotune.model.tune_model`` under the stated budget, into ``--log-dir``;
2. ``autotune.model.build_model`` from those logs (checked against ONNX Runtime): the
   package that step 4 times and step 5 profiles;
3. TVM's own Relax MetaSchedule pipeline at the trial count autotune ran (or
   ``--relax-trials``; 0 skips it), into its own work dir;
4. ``autotune.model.compare_model``: the tuned package, TVM's untuned build, the Relax-tuned
   build and ONNX Runtime, each called as a user calls it (NumPy in and out), timed by one
   protocol on the target's threads;
5. where the time goes: the tuned build's calls (kernels, glue, layout transforms) and
   ONNX Runtime's nodes, from ``autotune.model.profile``; and each kernel beside the ONNX
   Runtime nodes doing its work, profiled in turns (``workloads_in_turns``).

    python scripts/bench_networks.py --networks mobilenet_v2 --time-budget 30m

Writes ``<out>/<target key>/models/networks.csv`` (appending), ``<network>-profile.csv``
and ``<network>-kernels.csv``, and prints them. Needs ``torchvision==0.28.0`` (not a
dependency of the project: CI builds its small models with ``onnx.helper``).
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import pandas as pd
from bench_output import fail

from autotune.hardware.target import resolve_target, target_key, target_threads
from autotune.model import (
    build_model,
    compare_model,
    load_model_package,
    load_onnx,
    tune_model,
)
from autotune.model.profile import (
    by_category,
    profile_onnxruntime,
    profile_tvm,
    with_tuning_latency,
    workloads_in_turns,
)
from autotune.model.relax_tuning import relax_tuned_build
from autotune.search.options import SearchOptions
from autotune.workload.workload import VARIANT_POLICIES


def torchvision_models():
    """torchvision's ``models`` module; SystemExit (one line, status 2) where it is missing."""
    # torchvision's compiled ops are built for another torch; the model definitions need
    # none of them, but importing their meta registrations fails.
    sys.modules.setdefault("torchvision._meta_registrations",
                           types.ModuleType("torchvision._meta_registrations"))
    try:
        import torchvision  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        fail(f"needs torch and torchvision (pip install torchvision==0.28.0): {err}")
    return torchvision.models


def export_network(name: str, path: Path, seed: int = 0) -> Path:
    """torchvision's ``name`` with random weights and calibrated BatchNorm, as ONNX."""
    import torch  # pylint: disable=import-outside-toplevel

    torch.manual_seed(seed)
    net = torchvision_models().get_model(name, weights=None)
    for module in net.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # running statistics = the mean over the calibration
    net.train()
    with torch.no_grad():
        net(torch.randn(8, 3, 224, 224))
    net.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, torch.randn(1, 3, 224, 224), str(path), opset_version=17,
                      dynamo=False, input_names=["x"], output_names=["y"])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="mobilenet_v2",
                        help="comma-separated torchvision model names")
    parser.add_argument("--trials", type=int, default=None,
                        help="autotune's trials per network (default: unlimited under "
                             "--time-budget, else 64 a kernel)")
    parser.add_argument("--time-budget", default=None, help="autotune's time budget, e.g. 30m")
    parser.add_argument("--relax-trials", type=int, default=None,
                        help="trials for TVM's Relax pipeline (default: as many as autotune "
                             "ran; 0 skips it)")
    parser.add_argument("--relax-apply", action="store_true",
                        help="no Relax tuning: apply the database already in --work as it is "
                             "(e.g. of a run cut short), its records counted as its trials")
    parser.add_argument("--variants", choices=VARIANT_POLICIES, default="auto",
                        help="layout variants to tune (default: auto, as model tune)")
    parser.add_argument("--log-dir", default="results/logs")
    parser.add_argument("--work", default="build/networks", help="models and Relax databases")
    parser.add_argument("--out", default="results")
    args = parser.parse_args()

    names = [n for n in args.networks.split(",") if n]
    models = torchvision_models()
    known = set(models.list_models(module=models))
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        fail(f"unknown torchvision classification model {', '.join(unknown) or '(none given)'}; "
             f"known: {', '.join(sorted(known))}")
    target = resolve_target("cpu")
    out = Path(args.out) / target_key(target) / "models"
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work)
    command = "python " + " ".join(sys.argv)
    for name in names:
        model = load_onnx(export_network(name, work / f"{name}.onnx"))
        started = time.monotonic()
        tuning = tune_model(model, target, args.trials, args.log_dir,
                            time_budget=args.time_budget,
                            search=SearchOptions(variants=args.variants))
        tune_s = time.monotonic() - started
        package = build_model(model, target, args.log_dir, work / f"{name}-pkg")
        trials = sum(r.records for r in tuning.results)  # all in the logs, this run's or not
        relax_trials = trials if args.relax_trials is None else args.relax_trials
        relax_dir = work / f"{name}-relax"
        others, relax_s = {}, float("nan")
        if args.relax_apply:
            others["tvm-relax-tuned"] = relax_tuned_build(model, target, 0, relax_dir)
            relax_trials = relax_records(relax_dir)
        elif relax_trials:
            started = time.monotonic()
            others["tvm-relax-tuned"] = relax_tuned_build(model, target, relax_trials, relax_dir)
            relax_s = time.monotonic() - started
        table = compare_model(model, target, others=others, package=package)
        table["network"] = name
        table["kernels"] = len(tuning.workloads)
        table["trials"] = trials
        table["tune_s"] = round(tune_s)
        table["relax_trials"] = relax_trials
        table["relax_tune_s"] = round(relax_s) if relax_s == relax_s else None
        table["command"] = command
        path = out / "networks.csv"
        table.to_csv(path, mode="a", header=not path.exists(), index=False)
        cols = ["implementation", "median_us", "spread", "speedup_vs_onnxruntime", "rel_error",
                "matches_onnxruntime"]
        print(f"{name}: {len(tuning.workloads)} kernels, {trials} trials in "
              f"{tune_s / 60:.1f} min (Relax: {relax_trials} trials in {relax_s / 60:.1f} min)")
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        profile, kernels = where_time_goes(model, target, package, work, tuning.workloads)
        profile.to_csv(out / f"{name}-profile.csv", index=False)
        kernels.to_csv(out / f"{name}-kernels.csv", index=False)
        for build, part in profile.groupby("build", sort=False):
            print(f"{name}, {build}, by category (instrumented, us per call):")
            print(by_category(part).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        print(f"{name}, each kernel beside ONNX Runtime's nodes (instrumented, in turns):")
        print(kernels.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"appended to {out / 'networks.csv'}")


def relax_records(work_dir: Path) -> int:
    """Candidates measured into a MetaSchedule database (one line each)."""
    path = work_dir / "database_tuning_record.json"
    return sum(1 for line in path.open() if line.strip()) if path.exists() else 0


def where_time_goes(model, target, package: Path, work: Path,
                    workloads) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tuned package's profile (kernels, glue, layout transforms) beside ONNX Runtime's,
    and each of its kernels beside the ONNX Runtime nodes doing that work."""
    pkg = load_model_package(package)
    tuned = profile_tvm(pkg.module, model, pkg.dev, pkg.tuned_symbols)
    ort = profile_onnxruntime(model, target_threads(target), work)
    by_workload = workloads_in_turns(pkg.module, model, pkg.dev, pkg.tuned_symbols, workloads,
                                     target_threads(target), work)
    by_workload = with_tuning_latency(by_workload, pkg.tuning_seconds)
    return pd.concat([tuned.assign(build="tvm-tuned"), ort.assign(build="onnxruntime")],
                     ignore_index=True), by_workload


if __name__ == "__main__":
    main()
