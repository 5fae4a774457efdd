// Differences between the PyTorch versions the backend builds against, in one place: PyTorch 2.x
// backends subclass c10d::Backend, PyTorch 1.13 backends subclass c10d::ProcessGroup. Chosen by
// TORCH_VERSION_MAJOR / TORCH_VERSION_MINOR from <torch/version.h>.
#pragma once

#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#define PLEXUS_TORCH_V2 1
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#define PLEXUS_TORCH_V2 0
#endif
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

// Unsigned 32/64-bit tensors exist from PyTorch 2.3, float8 tensors from 2.1.
#define PLEXUS_TORCH_AT_LEAST(maj, min) \
  (TORCH_VERSION_MAJOR > (maj) || (TORCH_VERSION_MAJOR == (maj) && TORCH_VERSION_MINOR >= (min)))

namespace plexus_torch {

#if PLEXUS_TORCH_V2
using BackendBase = c10d::Backend;
#else
using BackendBase = c10d::ProcessGroup;
#endif

// The error type PyTorch maps to torch.distributed.DistBackendError (2.1+), else RuntimeError.
[[noreturn]] void throwBackendError(const std::string& message);

}  // namespace plexus_torch
