"""Load a deployment package: checksum, architecture check, callables on NumPy or DLPack arrays.

Imports only the TVM runtime and target helpers: no tuning code is loaded or run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tvm
import tvm_ffi

from autotune.deploy.manifest import open_package
from autotune.errors import PackageError


class Kernel:
    """One exported kernel: ``kernel(*inputs, out=None)`` returns the output array.

    What is copied, and when (CPU packages):

    - An input that is a C-contiguous NumPy array (or a DLPack tensor on the kernel's
      device) of the declared shape and dtype is passed to the kernel as it is: no copy.
      The kernels accept any element-aligned address (manifest ``input_alignment`` 0);
      packages from before that field need 64-byte alignment, and other inputs are copied.
    - Any other input (strided, a view with a negative step, a list) is copied once into a
      contiguous array for the call. A wrong shape or dtype is an error, never converted.
    - The output is written into ``out`` when given (a C-contiguous array of the output's
      shape and dtype is written in place; another array gets the result copied in) and
      ``out`` is returned; otherwise into a new NumPy array.

    On a GPU, NumPy inputs are copied to the device and the output back to a new NumPy
    array; DLPack tensors already on the GPU (CuPy, PyTorch) are used without a copy, and
    then ``out`` may be one as well.
    """

    def __init__(self, func, entry: dict, dev: tvm.runtime.Device, alignment: int = 64,
                 functions: Callable[[str], Any] | None = None) -> None:
        self._func = func
        self._functions = functions  # the library's other functions by symbol (prepare)
        self._alignment = alignment
        self._dev = dev
        self._on_cpu = dev.dlpack_device_type() == tvm.cpu().dlpack_device_type()
        self.key: str = entry["key"]
        self.entry = entry
        self.inputs = [(tuple(s["shape"]), s["dtype"]) for s in entry["inputs"]]
        self.output = (tuple(entry["output"]["shape"]), entry["output"]["dtype"])
        self._dtypes = [np.dtype(d) for _, d in [*self.inputs, self.output]]
        # Bytes of alignment each argument needs; 0 in the manifest: its element size.
        self._align = [alignment or np.dtype(d).itemsize for _, d in [*self.inputs, self.output]]
        # Arrays go straight to the kernel, which checks the count, shape, dtype, device and
        # strides of its arguments before it runs, when element alignment is all it needs
        # (always so on x86 and ARM, whose vector loads take any element-aligned address).
        self._direct = self._on_cpu and not alignment

    def prepare(self, weights: Any) -> "PreparedKernel":
        """This kernel with its weights fixed: ``kernel.prepare(w)(x, out=None)``.

        Where the kernel packs its weights into another layout (manifest ``prepack``: the
        channel-blocked conv2d variants), they are packed once, here, and every call runs
        the kernel without its packing step; otherwise the weights are copied once into a
        contiguous array passed on every call. Either way the results are those of
        ``kernel(x, w)``; give a new ``prepare`` for new weights.
        """
        index = self._weight_index()
        shape, dtype = self.inputs[index]
        fixed = np.array(weights, dtype=self._dtypes[index], order="C", copy=True)
        if fixed.shape != shape:
            raise self._mismatch(index, fixed.shape, fixed.dtype)
        plan = self.entry.get("prepack")
        if plan is None or self._functions is None or not self._on_cpu:
            if not self._on_cpu:
                fixed = tvm.runtime.tensor(fixed, self._dev)
            return PreparedKernel(self, index, fixed, packed=False)
        spec = plan["packed"]
        packed = np.empty(tuple(spec["shape"]), spec["dtype"])
        self._functions(plan["pack"])(fixed, packed)
        inputs = list(self.entry["inputs"])
        inputs[index] = spec
        inner = Kernel(self._functions(plan["kernel"]),
                       {**self.entry, "inputs": inputs, "prepack": None}, self._dev,
                       self._alignment)
        return PreparedKernel(inner, index, packed, packed=True)

    def _weight_index(self) -> int:
        weights = self.entry.get("weights") or []
        if not weights:
            raise PackageError(f"{self.key} has no weight inputs to prepare")
        return int(weights[0])

    def __call__(self, *arrays: Any, out: Any = None) -> Any:
        if self._direct:
            if out is None:
                result = np.empty(*self.output)
                if self._call_direct(arrays, result):
                    return result
            elif type(out) is np.ndarray and out.flags.writeable and self._call_direct(arrays, out):
                return out
        return self._call(arrays, out)

    def _call_direct(self, arrays: tuple, out: np.ndarray) -> bool:
        """Run on the arguments as they are; False if the kernel refused them (it writes
        nothing then), for the checked path to copy what it must or name what is wrong."""
        try:
            self._func(*arrays, out)
        except (ValueError, TypeError, RuntimeError, BufferError):
            return False
        return True

    def _call(self, arrays: tuple, out: Any) -> Any:
        """The checked call: converts, stages and copies what the kernel cannot take as is."""
        if len(arrays) != len(self.inputs):
            raise PackageError(f"{self.key} takes {len(self.inputs)} inputs, got {len(arrays)}")
        args = [self._argument(i, a) for i, a in enumerate(arrays)]
        if out is None:
            result, tensor = self._new_output()
            self._func(*args, tensor)
            return result if self._on_cpu else tensor.numpy()
        tensor, copy_back = self._wrap_out(out)
        self._func(*args, tensor)
        if copy_back:  # out could not be written in place
            out[...] = np.from_dlpack(tensor) if self._on_cpu else tensor.numpy()
        return out

    def _argument(self, index: int, array: Any):
        """Input ``index`` as a TVM tensor on the kernel's device, copied only if it must be."""
        shape, dtype = self.inputs[index]
        if isinstance(array, np.ndarray):
            if array.shape != shape or array.dtype != self._dtypes[index]:
                raise self._mismatch(index, array.shape, array.dtype)
            if self._on_cpu:
                return self._wrap(array, index)
            return tvm.runtime.tensor(np.ascontiguousarray(array), self._dev)
        if hasattr(array, "__dlpack__"):
            try:
                tensor = tvm_ffi.from_dlpack(array)
            except (RuntimeError, ValueError, TypeError, BufferError):
                return self._argument(index, np.asarray(array))
            if (tuple(tensor.shape), str(tensor.dtype)) != (shape, dtype):
                raise self._mismatch(index, tuple(tensor.shape), tensor.dtype)
            if tensor.device == self._dev and _fits(tensor, self._align[index]):
                return tensor
            return self._argument(index, np.from_dlpack(array) if self._on_cpu else tensor.numpy())
        return self._argument(index, np.asarray(array, dtype=self._dtypes[index]))

    def _wrap(self, array: np.ndarray, index: int):
        """A NumPy array as a TVM tensor, without a copy where its layout allows."""
        try:
            return tvm_ffi.from_dlpack(array, require_alignment=self._align[index],
                                       require_contiguous=True)
        except (RuntimeError, ValueError, BufferError):
            staged = _aligned_empty(array.shape, array.dtype, self._align[index])
            staged[...] = array
            return tvm_ffi.from_dlpack(staged, require_alignment=self._align[index])

    def _new_output(self) -> tuple[Any, Any]:
        """A new output array (NumPy on a CPU, a TVM tensor on a GPU) and its tensor."""
        shape, dtype = self.output
        if not self._on_cpu:
            tensor = tvm.runtime.empty(shape, dtype, self._dev)
            return tensor, tensor
        array = np.empty(shape, dtype)
        try:
            return array, tvm_ffi.from_dlpack(array, require_alignment=self._align[-1])
        except (RuntimeError, ValueError, BufferError):  # NumPy's memory is not aligned enough
            array = _aligned_empty(shape, dtype, self._align[-1])
            return array, tvm_ffi.from_dlpack(array, require_alignment=self._align[-1])

    def _wrap_out(self, out: Any) -> tuple[Any, bool]:
        """The tensor the kernel writes for ``out``, and whether it must be copied into it."""
        shape = self.output[0]
        if isinstance(out, np.ndarray):
            if out.shape != shape or out.dtype != self._dtypes[-1]:
                raise self._mismatch(-1, out.shape, out.dtype)
            if not out.flags.writeable:
                raise PackageError(f"{self.key}: out is a read-only array")
            if self._on_cpu:
                try:
                    return tvm_ffi.from_dlpack(out, require_alignment=self._align[-1],
                                               require_contiguous=True), False
                except (RuntimeError, ValueError, BufferError):
                    pass
            return self._new_output()[1], True
        tensor = tvm_ffi.from_dlpack(out)
        if (tuple(tensor.shape), str(tensor.dtype)) != (shape, self.output[1]):
            raise self._mismatch(-1, tuple(tensor.shape), tensor.dtype)
        if tensor.device != self._dev or not _fits(tensor, self._align[-1]):
            raise PackageError(f"{self.key}: out must be a contiguous tensor on {self._dev}, "
                               f"aligned to {self._align[-1]} bytes")
        return tensor, False

    def _mismatch(self, index: int, shape, dtype) -> PackageError:
        want, what = (self.output, "out") if index < 0 else (self.inputs[index], f"input {index}")
        return PackageError(f"{self.key}: {what} must be {want[1]}{list(want[0])}, "
                            f"got {dtype}{list(shape)}")


class PreparedKernel:
    """A kernel with its weights fixed (``Kernel.prepare``): called with the other inputs."""

    def __init__(self, kernel: Kernel, index: int, weights: Any, packed: bool) -> None:
        self._kernel, self._index, self._weights = kernel, index, weights
        self.key = kernel.key
        self.packed = packed  # whether the weights were packed once into the kernel's layout

    def __call__(self, *arrays: Any, out: Any = None) -> Any:
        args = (*arrays[:self._index], self._weights, *arrays[self._index:])
        return self._kernel(*args, out=out)


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def data_address(tensor) -> int:
    """Address of the first element of a TVM tensor (or of a NumPy array)."""
    if isinstance(tensor, np.ndarray):
        return _address(tensor)
    pointer = tensor.data_ptr  # a method on tvm.runtime.Tensor, a property on tvm_ffi's
    return int(pointer() if callable(pointer) else pointer)


def _fits(tensor, alignment: int) -> bool:
    """Whether a DLPack tensor is compact and aligned as a kernel argument must be."""
    return tensor.is_contiguous() and data_address(tensor) % alignment == 0


def _aligned_empty(shape: tuple, dtype: str, alignment: int) -> np.ndarray:
    """An uninitialised C-contiguous NumPy array whose data start on an ``alignment`` boundary."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dtype.itemsize + alignment, np.uint8)
    skip = -_address(raw) % alignment
    return raw[skip: skip + count * dtype.itemsize].view(dtype).reshape(shape)


class Package:
    """A loaded package: ``pkg[key](*inputs)``; ``pkg.manifest`` holds the provenance."""

    def __init__(self, path: Path, manifest: dict, module, dev) -> None:
        self.path = path
        self.manifest = manifest
        alignment = int(manifest.get("input_alignment", 64))
        self.kernels = {e["key"]: Kernel(module[e["symbol"]], e, dev, alignment,
                                         module.__getitem__)
                        for e in manifest["kernels"]}

    def __getitem__(self, key: str) -> Kernel:
        try:
            return self.kernels[key]
        except KeyError:
            raise PackageError(
                f"package {self.path} has no kernel {key!r}; it has: {', '.join(self.kernels)}"
            ) from None

    def __contains__(self, key: str) -> bool:
        return key in self.kernels

    def keys(self) -> list[str]:
        return list(self.kernels)


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to /dev/null for a moment."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_package(path: str | Path) -> Package:
    """Verify and load a package written by ``autotune.export``."""
    path, manifest, library, dev = open_package(path)
    if manifest.get("kind") == "model":
        raise PackageError(f"{path} holds a model: load it with autotune.model.load_model_package")
    return Package(path, manifest, tvm.runtime.load_module(str(library)), dev)
