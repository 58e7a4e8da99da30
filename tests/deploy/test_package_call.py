"""A package kernel's call path: what is copied and what is not, out=, misaligned memory."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tvm

import autotune
from autotune.deploy.package import data_address, load_package
from autotune.errors import PackageError
from autotune.measure.alignment import compile_kernels
from autotune.measure.compile import call_kernel

# A vector op and a conv, exported with TVM's default schedules: no tuning needed.
ADD = autotune.Workload("add", n=1 << 12)
CONV = autotune.Workload("conv2d", c=5, h=9, w=7, k=3, kh=3, kw=2, stride=2, padding=1)
# Its channel-blocked variant, which packs its weights (3 output channels into a block of 8).
BLOCKED = autotune.Workload("conv2d_nchwc", **CONV.params)


class Spy:
    """Stands in for the exported function: records the data address of every argument."""

    def __init__(self, func) -> None:
        self.func, self.addresses = func, []

    def __call__(self, *tensors):
        self.addresses = [data_address(t) if isinstance(t, np.ndarray) or hasattr(t, "data_ptr")
                          else None for t in tensors]
        return self.func(*tensors)


def address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def misaligned(array: np.ndarray, offset_bytes: int) -> np.ndarray:
    """A C-contiguous copy of ``array`` whose data start ``offset_bytes`` past 64 bytes."""
    raw = np.empty(array.nbytes + 128, np.uint8)
    start = -address(raw) % 64 + offset_bytes
    view = raw[start:start + array.nbytes].view(array.dtype).reshape(array.shape)
    view[...] = array
    assert address(view) % 64 == offset_bytes and view.flags.c_contiguous
    return view


@pytest.fixture(scope="module")
def package(tmp_path_factory, cpu):
    out = tmp_path_factory.mktemp("pkg")
    autotune.export([ADD, CONV, BLOCKED], cpu, tmp_path_factory.mktemp("nologs"), out,
                    fallback="default")
    return out


def spied(package_dir, key):
    kernel = load_package(package_dir)[key]
    kernel._func = Spy(kernel._func)  # pylint: disable=protected-access
    return kernel, kernel._func  # pylint: disable=protected-access


def test_contiguous_inputs_are_not_copied_at_any_element_alignment(package):
    kernel, spy = spied(package, ADD.key)
    x, y = ADD.make_inputs()
    for offset in (0, 4, 16, 52):  # 64-byte aligned, float-aligned only, NumPy-like, odd
        xs, ys = misaligned(x, offset), misaligned(y, (offset + 8) % 64)
        result = kernel(xs, ys)
        assert spy.addresses[:2] == [address(xs), address(ys)]
        assert ADD.check(result, [x, y]) is None


def test_strided_and_foreign_inputs_are_copied_and_still_correct(package):
    kernel, spy = spied(package, CONV.key)
    x, w = CONV.make_inputs()
    wide = np.zeros((*x.shape[:-1], 2 * x.shape[-1]), x.dtype)
    wide[..., ::2] = x
    strided = wide[..., ::2]
    assert not strided.flags.c_contiguous
    result = kernel(strided, w.tolist())  # a view with a step, and a plain list
    assert spy.addresses[0] != address(strided)
    assert CONV.check(result, [x, w]) is None


def test_out_is_written_in_place_or_copied_into(package):
    kernel, spy = spied(package, CONV.key)
    x, w = CONV.make_inputs()
    out = np.full(CONV.output_spec.shape, np.nan, "float32")
    assert kernel(x, w, out=out) is out
    assert spy.addresses[-1] == address(out)
    assert CONV.check(out, [x, w]) is None
    # A strided out gets the result copied in.
    wide = np.full((*out.shape[:-1], 2 * out.shape[-1]), np.nan, "float32")
    view = wide[..., ::2]
    assert kernel(x, w, out=view) is view
    assert CONV.check(np.ascontiguousarray(view), [x, w]) is None
    assert np.isnan(wide[..., 1::2]).all()  # nothing written beside it
    with pytest.raises(PackageError, match=r"out must be float32\[1, 3, 5, 4\]"):
        kernel(x, w, out=np.zeros((1, 3, 5, 5), "float32"))
    with pytest.raises(PackageError, match="read-only"):
        out.flags.writeable = False
        kernel(x, w, out=out)


def test_dlpack_inputs_are_not_copied(package):
    torch = pytest.importorskip("torch")
    kernel, spy = spied(package, ADD.key)
    x, y = (torch.from_numpy(a) for a in ADD.make_inputs())
    out = torch.empty(ADD.output_spec.shape)
    assert kernel(x, y, out=out) is out
    assert spy.addresses == [x.data_ptr(), y.data_ptr(), out.data_ptr()]
    assert ADD.check(out.numpy(), [x.numpy(), y.numpy()]) is None


def test_a_package_without_input_alignment_copies_misaligned_inputs(package, tmp_path):
    """Packages written before kernels took element alignment need 64-byte aligned memory."""
    manifest = json.loads((package / "manifest.json").read_text())
    del manifest["input_alignment"]
    old = tmp_path / "old"
    old.mkdir()
    (old / manifest["library"]).write_bytes((package / manifest["library"]).read_bytes())
    (old / "manifest.json").write_text(json.dumps(manifest))
    kernel, spy = spied(old, ADD.key)
    x, y = ADD.make_inputs()
    xs, ys = misaligned(x, 16), misaligned(y, 0)
    result = kernel(xs, ys)
    assert spy.addresses[0] != address(xs) and spy.addresses[0] % 64 == 0
    assert spy.addresses[1] == address(ys)
    assert spy.addresses[2] % 64 == 0
    assert ADD.check(result, [x, y]) is None


def test_vectorised_kernel_runs_on_misaligned_memory(cpu):
    """A 16-lane vectorised loop, compiled as packages are, on arrays 4 bytes past 64."""
    sch = tvm.s_tir.Schedule(ADD.module())
    loop = sch.fuse(*sch.get_loops(sch.get_sblock("add")))
    outer, inner = sch.split(loop, [None, 16])
    sch.vectorize(inner)
    sch.parallel(outer)
    kernel = call_kernel(compile_kernels(sch.mod, cpu).jit(), ADD, cpu)
    x, y = ADD.make_inputs()
    out = misaligned(np.zeros_like(x), 4)
    kernel(misaligned(x, 4), misaligned(y, 36), out=out)
    assert ADD.check(out, [x, y]) is None


@pytest.mark.parametrize("workload", [BLOCKED, CONV], ids=["packed once", "bound"])
def test_prepared_weights_give_the_per_call_results(package, workload):
    kernel = load_package(package)[workload.key]
    assert ("prepack" in kernel.entry and kernel.entry["prepack"] is not None) == (
        workload is BLOCKED)
    x, w = workload.make_inputs()
    want = kernel(x, w)
    prepared = kernel.prepare(w)
    assert prepared.packed == (workload is BLOCKED)
    np.testing.assert_array_equal(prepared(x), want)
    w[...] = 0  # the prepared kernel holds its own copy (or packing) of the weights
    out = np.empty_like(want)
    assert prepared(x, out=out) is out
    np.testing.assert_array_equal(out, want)


def test_prepare_needs_weights_of_the_declared_shape(package):
    pkg = load_package(package)
    with pytest.raises(PackageError, match="no weight inputs"):
        pkg[ADD.key].prepare(ADD.make_inputs()[1])
    with pytest.raises(PackageError, match="input 1 must be"):
        pkg[BLOCKED.key].prepare(np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("library", ["../kernels.so", "/tmp/kernels.so", "", 3, "link"])
def test_the_library_must_be_a_regular_file_inside_the_package(package, tmp_path, library):
    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    if library == "link":  # a link to a library elsewhere, checksum and all
        (copy / manifest["library"]).rename(tmp_path / "elsewhere.so")
        (copy / manifest["library"]).symlink_to(tmp_path / "elsewhere.so")
        message = "symbolic link"
    else:
        shutil.copy(package / manifest["library"], tmp_path / "kernels.so")
        manifest["library"] = library
        (copy / "manifest.json").write_text(json.dumps(manifest))
        message = "'library' must name a file in the package folder"
    with pytest.raises(PackageError, match=message):
        load_package(copy)


POOL_SIZE = """
import sys
import tvm
if len(sys.argv) > 1:
    from autotune.deploy import load_package
    load_package(sys.argv[1])
print(tvm.get_global_func("runtime.NumThreads")())
"""


def test_a_loaded_package_runs_on_its_targets_cores(cpu, tmp_path):
    """TVM's own pool size on x86 is half the logical CPUs; a package's kernels run on the
    ``num-cores`` of the target they were tuned and timed for, unless TVM_NUM_THREADS says."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    env = {k: v for k, v in os.environ.items() if k != "TVM_NUM_THREADS"}

    def pool(*package, **extra) -> int:
        proc = subprocess.run([sys.executable, "-c", POOL_SIZE, *map(str, package)],
                              env={**env, **extra}, capture_output=True, text=True, timeout=300,
                              check=True)
        return int(proc.stdout.split()[-1])

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one CPU: every pool size is 1")
    cores = 1 if pool() > 1 else 2  # a count TVM would not choose by itself here
    target = tvm.target.Target({**cpu.export(), "num-cores": cores})
    out = autotune.export([ADD], target, tmp_path / "nologs", tmp_path / "pkg", fallback="default")
    assert pool(out) == cores
    assert pool(out, TVM_NUM_THREADS="1") == 1
