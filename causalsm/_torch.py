"""Import torch once, with a guard for the OpenMP runtime of a host process (R).

torch brings its own OpenMP runtime: GNU ``libgomp.so.1`` in the Linux wheels,
LLVM ``libomp`` on macOS, Intel ``libiomp5`` in some conda builds.  Inside R
(through reticulate) another runtime may already be loaded: Debian's and Ubuntu's
R link the system ``libgomp.so.1``, and packages such as data.table load ``libomp``
on macOS.  What happens then:

* Linux, GNU with GNU (tested: R 4.2 from Debian, torch 2.13 CPU wheel): torch's
  ``libgomp.so.1`` has the same soname as the one R loaded, so the dynamic loader
  reuses R's copy and torch runs on it; training gives the same numbers as in
  Python.  Nothing to do.
* Two LLVM/Intel runtimes (macOS, conda): the second one aborts the process at
  load with "OMP: Error #15: Initializing libomp..., but found ... already
  initialized".  The runtime's own switch ``KMP_DUPLICATE_LIB_OK=TRUE`` lets both
  run; :func:`import_torch` sets it (unless the user set it) when it finds an
  LLVM or Intel runtime already loaded, before torch loads its own.
* Linux on some machines (often aarch64): ``libgomp...: cannot allocate memory in
  static TLS block`` when the runtime is loaded late.  It cannot be fixed from
  inside the process; :func:`import_torch` re-raises it with the remedy: start R
  with ``LD_PRELOAD`` set to that library, or import torch first
  (``reticulate::import("torch")`` before anything else).

causalsm trains on one CPU thread unless told otherwise
(``NeuralBalancingScore(n_threads=...)``), so torch's threads never compete with
R's own.
"""

from __future__ import annotations

import os
import re
import sys
import warnings

__all__ = ["import_torch", "loaded_openmp", "in_r"]

_RUNTIME = re.compile(r"^lib(gomp|iomp5|omp)([-.][^/]*)?\.(so[.0-9]*|dylib)$")
_REMEDY = ("Remedies: start R with LD_PRELOAD pointing to that library, or import torch "
           "before anything else in the session (reticulate::import(\"torch\")); with two "
           "LLVM/Intel OpenMP runtimes, set KMP_DUPLICATE_LIB_OK=TRUE before importing "
           "causalsm.")


def in_r() -> bool:
    """Whether Python runs embedded in R through reticulate."""
    return "rpycall" in sys.modules


def loaded_openmp() -> list[str]:
    """Paths of the OpenMP runtimes loaded in this process (Linux and macOS; empty
    elsewhere or when the process cannot be inspected)."""
    paths: list[str] = []
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    parts = line.split(maxsplit=5)
                    if len(parts) == 6 and parts[5].startswith("/"):
                        paths.append(parts[5].strip())
        except OSError:
            return []
    elif sys.platform == "darwin":
        try:
            import ctypes
            dyld = ctypes.CDLL(None)
            dyld._dyld_get_image_name.restype = ctypes.c_char_p
            for i in range(dyld._dyld_image_count()):
                name = dyld._dyld_get_image_name(i)
                if name:
                    paths.append(name.decode(errors="replace"))
        except (OSError, AttributeError):
            return []
    seen: dict[str, None] = {}
    for p in paths:
        if _RUNTIME.match(os.path.basename(p)):
            seen.setdefault(p, None)
    return list(seen)


def _torch_brings_llvm_runtime() -> bool:
    """Whether the torch to be imported loads an LLVM or Intel OpenMP runtime: the macOS
    wheels (libomp), conda builds (libiomp5 or libomp in the environment)."""
    if sys.platform == "darwin" or os.path.isdir(os.path.join(sys.prefix, "conda-meta")):
        return True
    try:
        import importlib.util
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    lib = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    try:
        names = os.listdir(lib)
    except OSError:
        return False
    return any(_RUNTIME.match(n) and "gomp" not in n for n in names)


def _allow_duplicate_runtime() -> None:
    """Set KMP_DUPLICATE_LIB_OK when an LLVM/Intel OpenMP runtime is already loaded and
    torch is about to load another one."""
    if "KMP_DUPLICATE_LIB_OK" in os.environ:
        return
    llvm = [p for p in loaded_openmp() if "gomp" not in os.path.basename(p)]
    if llvm and _torch_brings_llvm_runtime():
        os.environ["KMP_DUPLICATE_LIB_OK"] = "TRUE"
        warnings.warn(f"an OpenMP runtime is already loaded ({llvm[0]}); causalsm set "
                      "KMP_DUPLICATE_LIB_OK=TRUE so that torch's own can load beside it",
                      RuntimeWarning, stacklevel=3)


def import_torch():
    """Import and return torch, guarding against a host process's OpenMP runtime."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return torch
    _allow_duplicate_runtime()
    try:
        import torch
    except (ImportError, OSError) as err:
        text = str(err)
        if re.search(r"gomp|omp\b|libomp|iomp|static TLS|OMP", text):
            raise ImportError(f"torch could not be loaded beside the OpenMP runtime "
                              f"already in this process{' (R)' if in_r() else ''}: {text}. "
                              f"{_REMEDY}") from err
        raise
    return torch
