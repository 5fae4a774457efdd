"""Plexus as a torch.distributed backend.

Importing this package registers the backend "plexus" (CPU tensors, and CUDA tensors when built
against a PyTorch with CUDA: ``_C.built_with_cuda``)::

    import torch.distributed as dist
    import plexus_torch  # noqa: F401  (registers "plexus")
    dist.init_process_group("plexus", rank=rank, world_size=world_size)

Rank 0 of each group creates the Plexus unique ids and shares them through the store that
torch.distributed hands the backend, so no extra port is needed; set PLEXUS_SOCKET_IFNAME to the
interface the ranks reach each other on (``lo`` for one machine).
"""

import torch
import torch.distributed as dist

from . import _C
from ._C import ProcessGroupPlexus

__all__ = ["ProcessGroupPlexus", "BACKEND_NAME", "torch_version", "backend_devices"]

BACKEND_NAME = "plexus"


def torch_version():
    """(major, minor) of the PyTorch this process runs."""
    parts = torch.__version__.split("+")[0].split(".")
    return int(parts[0]), int(parts[1])


def backend_devices():
    """The device types the "plexus" backend takes tensors of."""
    return ["cpu", "cuda"] if getattr(_C, "built_with_cuda", False) else ["cpu"]


def _check_build():
    built = tuple(int(x) for x in _C.built_with_torch.split(".")[:2])
    if built != torch_version():
        raise ImportError(
            f"plexus_torch was built against PyTorch {_C.built_with_torch} but this process "
            f"runs PyTorch {torch.__version__}; rebuild it (python/ci.sh or setup.py build_ext)"
        )


def _returns_process_group():
    """True where torch.distributed takes a ProcessGroup from a backend's creator as the group."""
    if not hasattr(_C, "create_process_group"):
        return False
    import inspect

    from torch.distributed import distributed_c10d

    src = inspect.getsource(distributed_c10d._new_process_group_helper)
    return "isinstance(backend_class, ProcessGroup)" in src


def _create(store, rank, size, timeout):
    if _USE_PROCESS_GROUP:
        return _C.create_process_group(store, rank, size, timeout)
    return ProcessGroupPlexus(store, rank, size, timeout)


def _register():
    if BACKEND_NAME.upper() in getattr(dist.Backend, "_plugins", {}):
        return
    if torch_version() >= (2, 0):
        import inspect

        params = inspect.signature(dist.Backend.register_backend).parameters
        if "devices" in params:
            dist.Backend.register_backend(BACKEND_NAME, _create, devices=backend_devices())
            return
    dist.Backend.register_backend(BACKEND_NAME, _create)


_check_build()
_USE_PROCESS_GROUP = _returns_process_group()
_register()
