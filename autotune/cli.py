"""Command line: a thin skin over the Python API. Bad input: one line on stderr, exit status 2."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
from pathlib import Path

import click

from autotune.errors import AutotuneError, Interrupted
from autotune.logs.store import DEFAULT_LOG_DIR
from autotune.search.options import STRATEGIES, Budget, SearchOptions
from autotune.workload.workload import VARIANT_POLICIES

LOG_DIR = click.option(
    "--log-dir", default=DEFAULT_LOG_DIR, show_default=True, type=click.Path(file_okay=False),
    help="Root of the tuning logs.",
)
SEARCH_OPTIONS = [
    click.option("--seed", type=int, default=None, help="Search seed."),
    click.option("--trials-per-iter", type=click.IntRange(min=1), default=64, show_default=True,
                 help="Candidates built and measured per batch."),
    click.option("--population", type=click.IntRange(min=2), default=None,
                 help="Schedules the evolutionary search samples and evolves per batch "
                      "(default: 8 per candidate measured, 128 to 512: 512 for batches of 64)."),
    click.option(
        "--variants", type=click.Choice(VARIANT_POLICIES), is_flag=False, flag_value="all",
        default=None,
        help="Layout variants to tune beside the kernel's own layout (e.g. conv2d in NHWC, "
             "NCHW[x]c) under the same budget; the fastest validated one serves. 'auto': "
             "those expected to pay on the shape (a pointwise conv in blocks and as a GEMM over "
             "its pixels instead of NCHW, other convs in NCHW and in blocks); '--variants' "
             "alone: all.  [default: auto]"),
    click.option(
        "--warm-start", is_flag=True,
        help="Train the cost model first on the records already measured on this target "
             "under --log-dir (MetaSchedule's starts cold and ranks at random for 100 trials)."),
    click.option(
        "--transfer/--no-transfer", default=True, show_default=True,
        help="Start a new log's search from the best schedules of similar workloads tuned for "
             "this target under --log-dir, else of the seeds packaged with autotune, fitted to "
             "its shape."),
    click.option(
        "--strategy", type=click.Choice(STRATEGIES), default="autotune", show_default=True,
        help="'autotune': evolutionary search that samples at random while the cost model "
             "is cold and starts from transferred schedules; 'evolutionary': MetaSchedule's "
             "own, as tune_tir runs it."),
]


def search_options():
    """Give the command the search options, passed to it as one ``search=SearchOptions``
    (``SearchOptions``' own variant policy where ``--variants`` is not given).

    Each option is named as the ``SearchOptions`` field it sets.
    """
    fields = {f.name for f in dataclasses.fields(SearchOptions)}

    def decorate(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            chosen = {name: kwargs.pop(name) for name in fields & kwargs.keys()}
            if chosen.get("variants") is None:
                chosen.pop("variants", None)
            return command(*args, search=SearchOptions(**chosen), **kwargs)

        for option in reversed(SEARCH_OPTIONS):
            run = option(run)
        return run

    return decorate


def budget_options(trials_help: str, time_help: str, default_trials=None):
    """Give a command --trials, --time-budget and --log-dir, passed to it as one
    ``budget=Budget``. ``default_trials(kwargs)`` is the trial count when neither
    --trials nor --time-budget is given (None: no default)."""

    def decorate(command):
        @functools.wraps(command)
        def run(*args, trials, time_budget, log_dir, **kwargs):
            if trials is None and time_budget is None and default_trials is not None:
                trials = default_trials(kwargs)
            return command(*args, budget=Budget(trials, time_budget, log_dir), **kwargs)

        run = LOG_DIR(run)
        run = click.option("--time-budget", default=None, help=time_help)(run)
        return click.option("--trials", type=click.IntRange(min=0), default=None,
                            help=trials_help)(run)

    return decorate


TARGET = click.option(
    "--target", default="cpu", show_default=True,
    help="'cpu' (host CPU), 'cuda', 'cuda:sm_XX', or a TVM target JSON object.",
)


def remote_options(command):
    """Give ``command`` --rpc, --rpc-key and --rpc-timeout, passed to it as one
    ``workers=Workers`` (measuring on the devices registered under the key, or here), to be
    used in a ``with`` block."""

    @functools.wraps(command)
    def run(*args, rpc, rpc_key, rpc_timeout, **kwargs):
        from autotune.remote import Remote
        from autotune.search.workers import Workers

        if (rpc is None) != (rpc_key is None):
            raise AutotuneError("--rpc and --rpc-key go together: the tracker's HOST:PORT and "
                                "the key its servers registered under")
        remote = Remote(rpc, rpc_key, session_timeout_s=rpc_timeout) if rpc else None
        return command(*args, workers=Workers(remote), **kwargs)

    run = click.option("--rpc-timeout", type=click.FloatRange(min=1), default=60.0,
                       show_default=True,
                       help="Seconds a remote session (one candidate) may take.")(run)
    run = click.option("--rpc-key", default=None, metavar="KEY",
                       help="The key the RPC servers registered under.")(run)
    return click.option(
        "--rpc", default=None, metavar="HOST:PORT",
        help="Measure on the devices registered with this TVM RPC tracker under --rpc-key "
             "(candidates are built here for the remote target; 'cpu' means the remote "
             "CPU; the chosen kernel is checked and timed there).")(run)


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("c=19", "stride=2,1")`` -> ``{"c": "19", "stride": "2,1"}``."""
    params: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:  # an empty value goes to the parameter (epilogue=: none)
            raise AutotuneError(f"parameter {pair!r} is not of the form name=value")
        if name in params:
            raise AutotuneError(f"parameter '{name}' is given twice")
        params[name] = value
    return params


class AutotuneCli(click.Group):
    """The command group; its ``main`` turns every error a user can cause into one line on
    stderr and exit status 2 (``interrupted...`` and 130 on Ctrl-C), in a shell and under
    ``click.testing.CliRunner`` alike."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        args = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(args, prog_name or "autotune", complete_var,
                                standalone_mode=False, obj={"argv": args}, **extra)
        except click.exceptions.Abort as err:  # Ctrl-C: a search says what its logs kept
            said = err.__cause__ if isinstance(err.__cause__, Interrupted) else "interrupted"
            click.echo(str(said), err=True)
            sys.exit(130)
        except click.ClickException as err:
            click.echo(f"error: {err.format_message()}", err=True)
            sys.exit(err.exit_code)
        except AutotuneError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2)
        except OSError as err:  # a full disk or a vanished folder while writing results
            where = f" ({err.filename})" if err.filename else ""
            click.echo(f"error: {err.strerror or err}{where}", err=True)
            sys.exit(2)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=AutotuneCli, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Tune kernels with TVM MetaSchedule, validate them, compare and ship them."""


@cli.command()
def kernels() -> None:
    """List kernel templates and their parameters."""
    from autotune.workload.registry import templates

    for template in templates().values():
        click.echo(f"{template.name}: {template.doc}")
        for p in template.params:
            default = "required" if p.default is None else f"default {p.default}"
            click.echo(f"    {p.name:<9} {p.doc} ({default})")


@cli.command()
@click.argument("kernel")
@click.argument("params", nargs=-1)
@TARGET
@budget_options("Trials to add to the log (0: only validate and time what is there). "
                "Default 64, or unlimited with --time-budget.",
                "Wall-clock budget, e.g. 8h, 45m, 1h30m; ends with --trials, whichever first.",
                default_trials=lambda _: 64)
@search_options()
@remote_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def tune(kernel, params, target, budget, search, workers, quiet, as_json) -> None:
    """Tune KERNEL with parameters given as name=value (e.g. c=19 stride=2,1).

    Rerunning on an existing log continues the search from its records.
    """
    from autotune.search.tune import tune_budget
    from autotune.workload import Workload

    wl = Workload(kernel, **parse_params(params))
    with workers:
        result, = tune_budget([wl], target, budget, progress=not quiet, search=search,
                              workers=workers)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1))
        return
    click.echo(f"workload   {result.workload}")
    click.echo(f"target     {result.target}")
    click.echo(f"log        {result.log_path} ({result.records} records{_all_layouts(result)}, "
               f"{result.trials_run} trials this run in {result.seconds:.0f} s)")
    if result.validated:
        click.echo(
            f"best       {result.latency_s * 1e6:.1f} us median, {result.gflops:.2f} GFLOP/s "
            f"(validated against NumPy; {result.rejected} faster record(s) rejected)"
        )
    else:
        click.echo("best       none: no record in the log passed validation")
    for key, seconds in sorted((result.variant_latency_s or {}).items(), key=lambda kv: kv[1]):
        mark = "  <- chosen" if key == result.variant else ""
        click.echo(f"variant    {seconds * 1e6:9.1f} us  {key}{mark}")


@cli.command()
@click.argument("workloads", nargs=-1)
@click.option("--all", "all_logged", is_flag=True, help="Every workload logged for the target.")
@click.option("--suite", default=None, help="Every workload of a suite (a shipped name or a TOML file).")
@TARGET
@LOG_DIR
@click.option("--out", default="build/pkg", show_default=True, type=click.Path(file_okay=False))
@click.option("--fallback", type=click.Choice(["error", "default"]), default="error",
              show_default=True, help="For a workload with no log: fail, or build TVM's default.")
def export(workloads, all_logged, suite, target, log_dir, out, fallback) -> None:
    """Build a package (kernels.so + manifest.json) from logs, for WORKLOADS given by key."""
    from autotune.deploy.export import export as run_export
    from autotune.hardware.target import resolve_target
    from autotune.logs.store import LogStore
    from autotune.workload import Workload

    chosen = [Workload.from_key(key) for key in workloads]
    if suite:
        from autotune.workload.suite import load_suite

        chosen += load_suite(suite).workloads
    if all_logged:
        tgt = resolve_target(target)
        chosen += [e.workload for e in LogStore(log_dir).entries(tgt)]
    path = run_export(chosen, target, log_dir, out, fallback=fallback)
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    for k in manifest["kernels"]:
        click.echo(f"{k['schedule']:<8} {k['key']}")
    click.echo(f"wrote {path}/kernels.so and manifest.json ({len(manifest['kernels'])} kernels)")


@cli.command()
@click.option("--trials", default=128, show_default=True, type=click.IntRange(min=1))
@LOG_DIR
@click.option("--out", default="build/demo-pkg", show_default=True, type=click.Path(file_okay=False))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def demo(trials, log_dir, out, quiet) -> None:
    """Tune a small unusual conv2d on this CPU; print tuned vs untuned vs NumPy."""
    from autotune.demo import DEMO_WORKLOAD, run_demo

    click.echo(f"tuning {DEMO_WORKLOAD.key} on the host CPU, {trials} trials")
    result, table, pkg = run_demo(trials=trials, log_dir=log_dir, out=out, progress=not quiet)
    click.echo(f"target {result.target}; {result.records} records{_all_layouts(result)}; "
               f"the chosen kernel's log: {result.log_path}")
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    click.echo(f"package {pkg} reloaded and checked against NumPy")


@cli.command()
@click.argument("suite")
@TARGET
@budget_options("Trial budget per workload (default: the suite's); logs are topped up to it.",
                "Tune the whole suite under this one wall-clock budget (e.g. 8h), shared "
                "across workloads by MetaSchedule's task scheduler.")
@click.option("--out", default="results", show_default=True, type=click.Path(file_okay=False),
              help="Results root; tables go to OUT/<target key>/.")
@click.option("--baseline", "baselines", multiple=True,
              help="Only these baselines (repeatable; default: every one for the target).")
@search_options()
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Run each workload as a task on this Ray cluster ('auto': the one this "
                   "machine belongs to; 'ray://HOST:10001': through Ray Client); its log comes "
                   "back here as it grows. --time-budget is then each workload's.")
@click.option("--ray-cpus", type=click.FloatRange(min=0, min_open=True), default=None,
              help="CPUs each Ray task takes (default: the target's cores).")
@remote_options
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.pass_obj
def bench(obj, suite, target, budget, out, baselines, search, ray_address, ray_cpus, workers,
          quiet) -> None:
    """Run a suite (a shipped name or a TOML file): tune, then time tuned vs untuned vs baselines."""
    from autotune.benchmark.run import bench_budget
    from autotune.cluster.ray_suite import RayCluster

    if ray_cpus is not None and ray_address is None:
        raise AutotuneError("--ray-cpus needs --ray ADDRESS")
    cluster = RayCluster(ray_address, ray_cpus) if ray_address else None
    if cluster is not None and workers.remote is not None:
        raise AutotuneError("--ray and --rpc do not go together: a Ray worker measures on "
                            "its own CPU")
    command = "autotune " + " ".join(obj["argv"])
    with workers:
        result = bench_budget(suite, target, budget, out, baselines=list(baselines) or None,
                              progress=not quiet, command=command, search=search,
                              cluster=cluster, workers=workers)
    for name, reason in result.skipped.items():
        click.echo(f"skipped baseline {name}: {reason}")
    table = result.results
    tuned = table[table["implementation"] == "tvm-tuned"]
    cols = ["workload", "median_us", "call_overhead_us", "gflops", "roofline_fraction",
            "speedup_vs_best_baseline"]
    if search.variants != "none":
        cols.append("variant")
    click.echo(tuned[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    for path in result.files:
        click.echo(f"wrote {path}")


def _all_layouts(result) -> str:
    """Where a result's record count comes from, when its layouts each have a log."""
    return "" if result.variant is None else " in the logs of every layout tuned"


@cli.command()
@click.argument("tables", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", default="results/report", show_default=True,
              type=click.Path(file_okay=False), help="Folder for the PNGs and report.md.")
def report(tables, out) -> None:
    """Plots and a Markdown report from results tables written by 'autotune bench'."""
    from autotune.benchmark.table import load_results
    from autotune.report.markdown import write_report

    results, curves = load_results(list(tables))
    path = write_report(results, out, curves=curves if len(curves) else None)
    click.echo(f"wrote {path}")


@cli.command()
@click.argument("what")
@click.argument("key", required=False)
@TARGET
@LOG_DIR
@click.option("--record", help="A record id, or its first characters (`autotune logs show` "
                                "lists them); default: the fastest validated record.")
@click.option("--diff", "other", metavar="ID2",
              help="Another record id: both schedules and loop nests side by side.")
@click.option("--llvm", "code", flag_value="llvm", help="Also print the kernel's LLVM IR.")
@click.option("--asm", "code", flag_value="asm",
              help="Also print the kernel's assembly (its CUDA source on GPUs).")
@click.option("--no-script", is_flag=True, help="Leave out the scheduled TVMScript.")
def show(what, key, target, log_dir, record, other, code, no_script) -> None:
    """What the tuner found for WHAT, a workload key (or WHAT a package folder and KEY one of
    its kernels): latency and verdict, the schedule in words, the loop nest, the scheduled
    TVMScript, and on CPUs a summary of the compiled kernel's assembly."""
    from autotune.inspection.kernel import diff_views, inspect, inspect_package

    if Path(what).is_dir():
        if not key:
            raise click.UsageError("give the KEY of one of the package's kernels")
        if record or other:
            raise click.UsageError("--record and --diff read logs; a package holds one record")
        click.echo(inspect_package(what, key, code=code).render(script=not no_script))
        return
    if key:
        raise click.UsageError(f"{what} is not a package folder; give one workload key")
    view = inspect(what, target, log_dir, record=record, code=code)
    if other:
        click.echo(diff_views(view, inspect(what, target, log_dir, record=other)))
        return
    click.echo(view.render(script=not no_script))


@cli.command()
@LOG_DIR
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print the table once and exit.")
@click.option("--plots", type=click.Path(file_okay=False),
              help="Also keep curves-trials.png and curves-time.png in this folder up to date.")
def watch(log_dir, interval, once, plots) -> None:
    """The searches under a log directory, live: trials, best latency and GFLOP/s, speedup
    over the fastest library when the run timed one, and the best-so-far curve. Reads the
    events files only: watching never slows or locks a search. Ctrl-C ends it."""
    from autotune.report.watch import watch as watch_logs

    try:
        watch_logs(log_dir, interval=interval, once=once, plots=plots)
    except KeyboardInterrupt:
        pass


@cli.group()
def logs() -> None:
    """Inspect and maintain tuning logs."""


@logs.command("list")
@LOG_DIR
def logs_list(log_dir) -> None:
    """Every log: target, workload, records, trials, best validated latency."""
    from autotune.logs.tools import list_logs

    table = list_logs(log_dir)
    if table.empty:
        click.echo(f"no logs under {log_dir}")
        return
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


@logs.command("show")
@click.argument("workload")
@LOG_DIR
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1))
def logs_show(workload, log_dir, top) -> None:
    """The fastest records of WORKLOAD (a key), on every target it was tuned for."""
    from autotune.logs.tools import find_entries, records_table

    for entry in find_entries(log_dir, workload):
        click.echo(f"{entry.path}")
        table = records_table(entry).head(top)
        click.echo(table.drop(columns=["target", "workload"]).to_string(
            index=False, float_format=lambda v: f"{v:.2f}"))


@logs.command("merge")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--into", required=True, type=click.Path(file_okay=False),
              help="Log root to merge into (created if missing).")
def logs_merge(sources, into) -> None:
    """Merge log roots tuned on several machines; each target stays in its own folder."""
    from autotune.logs.tools import merge

    for source, log, count in merge(list(sources), into):
        click.echo(f"{count:6d} new records  {log}  from {source}")


@logs.command("prune")
@LOG_DIR
@click.option("--keep", required=True, type=click.IntRange(min=1),
              help="Records to keep per workload (the fastest).")
def logs_prune(log_dir, keep) -> None:
    """Keep the fastest KEEP records of every log (the old file is kept as .pruned)."""
    from autotune.logs.tools import prune

    for log, count in prune(log_dir, keep).items():
        click.echo(f"{count:6d} records pruned  {log}")


@logs.command("csv")
@LOG_DIR
@click.option("--out", default="records.csv", show_default=True, type=click.Path(dir_okay=False))
def logs_csv(log_dir, out) -> None:
    """Every record of every log as one CSV."""
    from autotune.logs.tools import records_csv

    click.echo(f"wrote {records_csv(log_dir, out)}")


@cli.group()
def model() -> None:
    """Whole ONNX models: tune their convs and matmuls, build with the logs, compare."""


MODEL_FALLBACK = click.option(
    "--fallback", type=click.Choice(["error", "default"]), default="error", show_default=True,
    help="For a conv or matmul with no log: fail, or keep TVM's own kernel.")


@model.command("tune")
@click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False))
@TARGET
@budget_options("Trials for the whole model, shared by its kernels (default 64 per kernel).",
                "Wall-clock budget for the whole model, e.g. 2h.")
@search_options()
@remote_options
@click.option("--quiet", is_flag=True, help="No progress bar.")
def model_tune(model_file, target, budget, search, workers, quiet) -> None:
    """Tune every conv2d and matmul of MODEL (.onnx) into the tuning logs."""
    from autotune.model.tune import tune_model_budget

    with workers:
        tuning = tune_model_budget(model_file, target, budget, progress=not quiet,
                                   search=search, workers=workers)
    for result in tuning.results:
        best = f"{result.latency_s * 1e6:10.1f} us" if result.validated else "  not validated"
        won = f"  (as {result.variant.split('-')[0]})" if result.variant else ""
        click.echo(f"{best}  {result.trials_run:5d} trials  {result.workload}{won}")
    for call in tuning.skipped:
        click.echo(f"left to TVM: {call}")


@model.command("build")
@click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False))
@TARGET
@LOG_DIR
@click.option("--out", default="build/model", show_default=True, type=click.Path(file_okay=False))
@MODEL_FALLBACK
def model_build(model_file, target, log_dir, out, fallback) -> None:
    """Build MODEL with the logs applied, check it against ONNX Runtime, write a package."""
    from autotune.model import onnxruntime_ref
    from autotune.model.build import build_model

    path = build_model(model_file, target, log_dir, out, fallback=fallback)
    manifest = json.loads((Path(path) / "manifest.json").read_text())
    for k in manifest["kernels"]:
        click.echo(f"{k['schedule']:<8} {k['key']}")
    for call in manifest["left_to_tvm"]:
        click.echo(f"left to TVM: {call}")
    check = manifest["onnxruntime_check"]
    if check["checked"]:
        click.echo(f"matches ONNX Runtime ({onnxruntime_ref.describe(check)})")
    else:
        click.echo(f"not checked against ONNX Runtime: {check['reason']}")
    click.echo(f"wrote {path}/{manifest['library']} and manifest.json")


@model.command("compare")
@click.argument("model_file", metavar="MODEL", type=click.Path(dir_okay=False))
@TARGET
@LOG_DIR
@MODEL_FALLBACK
@click.option("--package", "package", default=None, type=click.Path(file_okay=False),
              help="Time this package (built from MODEL by 'model build') as the tuned build, "
                   "instead of compiling one from the logs.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Also write the table as CSV.")
def model_compare(model_file, target, log_dir, fallback, package, out) -> None:
    """Time MODEL end to end: tuned build vs TVM's untuned build vs ONNX Runtime, each
    called as a user calls it (NumPy arrays in and out)."""
    from autotune.model.compare import compare_model

    table = compare_model(model_file, target, log_dir, fallback=fallback, package=package)
    cols = ["implementation", "median_us", "min_us", "max_us", "speedup_vs_onnxruntime",
            "speedup_vs_untuned", "rel_error"]
    click.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    click.echo(f"tuned kernels {table['tuned_kernels'][0]}, {table['threads'][0]} threads, "
               f"{table['host'][0]}")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        click.echo(f"wrote {out}")


def main() -> None:
    """The ``autotune`` console script. After Ctrl-C ("interrupted...", status 130) the process
    ends at once: what the search wrote is closed, and TVM's objects are not torn down
    (tearing them down mid-search has crashed the interpreter)."""
    try:
        cli.main()
    except SystemExit as done:
        if done.code == 130:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise
