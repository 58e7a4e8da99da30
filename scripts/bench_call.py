"""What a package call costs over the bare kernel: the user's call path, timed.

For each workload the kernel is compiled as packages are (TVM's default schedule with its
loops parallelised and vectorised where it has a spatial loop to split, so that the call
runs vectorised code on NumPy's memory), then timed with the measurement protocol, on the
same input sets, as:

- ``bare``: the compiled function on TVM tensors made once (what ``time_evaluator`` sees);
- ``call``: ``Kernel.__call__`` on the NumPy arrays, a new NumPy output each call;
- ``call_out``: the same writing into a preallocated ``out=``;
- ``copy_per_call``: what the package call did before: copy every input into a new TVM
  tensor, allocate the output and copy it back, every call.

Writes ``call-overhead.csv``/``.md`` under ``results/<target key>/``:

    python scripts/bench_call.py [--out results]
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import pandas as pd
import tvm
from bench_output import fenced, write_results

WORKLOADS = [
    ("add", dict(n=16)),
    ("add", dict(n=1 << 16)),
    ("add", dict(n=1 << 22)),
    ("softmax", dict(m=64, n=1000)),
    ("conv2d", dict(c=19, h=43, w=29, k=31, kh=5, kw=3, stride=(2, 1), padding=(2, 1),
                    dilation=(1, 2))),
]


def vectorised(wl):
    """The workload's module; an add's loops fused, split by 16, parallel outside, vectorised
    inside (its length is a multiple of 16 here, so the template has no tail block)."""
    sch = tvm.s_tir.Schedule(wl.module())
    if wl.kernel == "add":
        loop = sch.fuse(*sch.get_loops(sch.get_sblock("add")))
        outer, inner = sch.split(loop, [None, 16])
        sch.vectorize(inner)
        sch.parallel(outer)
    return sch.mod


def arms(wl, target, sets):
    from autotune.measure.compile import call_kernel, compile_module, prepare_call, prepare_module  # noqa: PLC0415
    from autotune.measure.protocol import Prepared  # noqa: PLC0415

    rt_mod = compile_module(vectorised(wl), target)
    dev = tvm.cpu()
    kernel = call_kernel(rt_mod, wl, target)
    spec = wl.output_spec
    results = [None] * len(sets)

    def new_output(i):
        results[i] = kernel(*sets[i])

    def copy_per_call(i):
        args = [tvm.runtime.tensor(x, dev) for x in sets[i]]
        out = tvm.runtime.empty(spec.shape, spec.dtype, dev)
        rt_mod["main"](*args, out)
        results[i] = out.numpy()

    def each_set(fn):
        return Prepared([partial(fn, i) for i in range(len(sets))], lambda i: results[i])

    return {"bare": prepare_module(rt_mod, wl, sets, dev), "call": each_set(new_output),
            "call_out": prepare_call(rt_mod, wl, sets, target),
            "copy_per_call": each_set(copy_per_call)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default="results", type=Path)
    args = parser.parse_args()
    from autotune.hardware.target import resolve_target, target_key, target_threads  # noqa: PLC0415
    from autotune.hardware.threads import set_threads  # noqa: PLC0415
    from autotune.measure.protocol import Protocol, input_sets, measure  # noqa: PLC0415
    from autotune.workload import Workload  # noqa: PLC0415

    target = resolve_target("cpu")
    set_threads(target_threads(target))
    protocol = Protocol()
    rows = []
    for kernel, params in WORKLOADS:
        wl = Workload(kernel, **params)
        sets = input_sets(wl, protocol.sets_for(wl))
        for arm, prepared in arms(wl, target, sets).items():
            for i in sorted({0, len(sets) - 1}):
                prepared.calls[i]()
                error = wl.check(prepared.output(i), sets[i])
                if error:
                    raise AssertionError(f"{arm} on {wl.key}: {error}")
            timing = measure(prepared, protocol)
            rows.append({"workload": wl.key, "arm": arm, "median_us": timing.median * 1e6,
                         "spread": timing.spread, "input_sets": timing.sets,
                         "bytes": sum(s.nbytes for s in wl.input_specs) + wl.output_spec.nbytes})
    runs = pd.DataFrame(rows)
    wide = runs.pivot(index="workload", columns="arm", values="median_us")
    wide = wide.loc[[Workload(k, **p).key for k, p in WORKLOADS]]
    wide["call - bare"] = wide["call"] - wide["bare"]
    wide["call_out - bare"] = wide["call_out"] - wide["bare"]
    wide["copy_per_call - bare"] = wide["copy_per_call"] - wide["bare"]
    write_results(args.out / target_key(target), "call-overhead", runs,
                  "Package call overhead: the user's call against the bare kernel",
                  "Medians in microseconds, one run, each arm on the same input sets (NumPy's "
                  "own allocations, usually 16-byte aligned).",
                  [fenced(wide.round(2), index=True)])


if __name__ == "__main__":
    main()
