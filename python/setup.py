"""Builds plexus_torch._C, the "plexus" torch.distributed backend, against the PyTorch that runs
this script and a Plexus build or install tree.

    PLEXUS_DIR=/path/to/plexus/build-or-prefix python3 setup.py build_ext --inplace

PLEXUS_DIR is either a CMake build directory of Plexus (include/ is taken from its source tree,
libplexus.so from its lib/) or an install prefix (include/ and lib/ or lib64/). Without it, the
build looks for ../build-py and then pkg-config plexus. The extension records the library's
directory as its run path, so nothing needs LD_LIBRARY_PATH.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent


def _from_build_dir(d: Path):
    cache = d / "CMakeCache.txt"
    src = None
    for line in cache.read_text().splitlines():
        m = re.match(r"CMAKE_HOME_DIRECTORY:INTERNAL=(.*)", line)
        if m:
            src = Path(m.group(1))
    if src is None:
        sys.exit(f"setup.py: {cache} names no source directory")
    libs = [d / "lib" / "libplexus.so"] if (d / "lib" / "libplexus.so").exists() else []
    libs = libs or sorted(d.glob("**/libplexus.so"))
    if not libs:
        sys.exit(f"setup.py: no libplexus.so under {d}; build it first: ninja -C {d} plexus")
    return src / "include", libs[0].parent


def _from_prefix(d: Path):
    for lib in ("lib", "lib64"):
        if (d / lib / "libplexus.so").exists():
            return d / "include", d / lib
    sys.exit(f"setup.py: no lib/libplexus.so under the prefix {d}")


def plexus_paths():
    d = os.environ.get("PLEXUS_DIR")
    candidates = [Path(d)] if d else [HERE.parent / "build-py"]
    for c in candidates:
        c = c.resolve()
        if (c / "CMakeCache.txt").exists():
            return _from_build_dir(c)
        if (c / "include" / "plexus" / "plexus.hpp").exists():
            return _from_prefix(c)
        if d:
            sys.exit(f"setup.py: PLEXUS_DIR={d} is neither a Plexus build directory nor a prefix")
    try:
        inc = subprocess.check_output(["pkg-config", "--variable=includedir", "plexus"], text=True)
        lib = subprocess.check_output(["pkg-config", "--variable=libdir", "plexus"], text=True)
        return Path(inc.strip()), Path(lib.strip())
    except (OSError, subprocess.CalledProcessError):
        sys.exit("setup.py: Plexus not found: set PLEXUS_DIR to a build directory or prefix")


def with_cuda():
    """CUDA tensors are supported when this PyTorch was built with CUDA and a CUDA toolkit is
    installed (headers and libcudart; no GPU needed to build). PLEXUS_TORCH_CUDA=0 or 1 forces."""
    import torch
    from torch.utils import cpp_extension

    forced = os.environ.get("PLEXUS_TORCH_CUDA")
    have = torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None
    if forced == "0" or (forced != "1" and not have):
        why = "PLEXUS_TORCH_CUDA=0" if forced == "0" else (
            "PyTorch has no CUDA" if torch.version.cuda is None else "no CUDA toolkit (CUDA_HOME)")
        print(f"setup.py: CPU tensors only ({why})")
        return False
    print(f"setup.py: CPU and CUDA tensors (PyTorch CUDA {torch.version.cuda}, toolkit "
          f"{cpp_extension.CUDA_HOME})")
    return True


def main():
    from torch.utils.cpp_extension import BuildExtension, CppExtension, CUDAExtension

    include, libdir = plexus_paths()
    sources = sorted(str(p.relative_to(HERE)) for p in (HERE / "csrc").glob("*.cpp"))
    cuda = with_cuda()
    make = CUDAExtension if cuda else CppExtension
    ext = make(
        name="plexus_torch._C",
        sources=sources,
        include_dirs=[str(include), str(HERE / "csrc")],
        library_dirs=[str(libdir)],
        libraries=["plexus"],
        define_macros=[("PLEXUS_TORCH_CUDA", "1")] if cuda else [],
        extra_compile_args=["-std=c++20", "-O2", "-Wall", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
        extra_link_args=[f"-Wl,-rpath,{libdir}"],
    )
    setup(
        name="plexus_torch",
        version="0.1.0",
        description="Plexus collective communication as a torch.distributed backend",
        packages=["plexus_torch"],
        ext_modules=[ext],
        cmdclass={"build_ext": BuildExtension.with_options(use_ninja=True)},
    )


if __name__ == "__main__":
    main()
