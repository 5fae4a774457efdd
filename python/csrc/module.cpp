// Python module plexus_torch._C: the ProcessGroupPlexus class that plexus_torch registers as the
// "plexus" torch.distributed backend.
#include <pybind11/chrono.h>
#include <torch/extension.h>

#include "backend.hpp"

#if PLEXUS_TORCH_V2
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

namespace plexus_torch {
// The group object torch.distributed keeps: c10d's ProcessGroup around the plexus Backend, named
// "plexus" (a plain ProcessGroup calls every plugin backend "custom", e.g. in DDP's logging data).
class PlexusProcessGroup : public c10d::ProcessGroup {
 public:
  using c10d::ProcessGroup::ProcessGroup;
  const std::string getBackendName() const override { return "plexus"; }
};
}  // namespace plexus_torch
#endif

namespace py = pybind11;
using plexus_torch::BackendBase;
using plexus_torch::ProcessGroupPlexus;

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  // The base class (c10d Backend or ProcessGroup) is registered by torch.distributed.
  py::module::import("torch.distributed");
  py::class_<ProcessGroupPlexus, BackendBase, c10::intrusive_ptr<ProcessGroupPlexus>>(
      m, "ProcessGroupPlexus")
      .def(py::init([](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
                       std::chrono::milliseconds timeout) {
             return c10::make_intrusive<ProcessGroupPlexus>(store, rank, size, timeout);
           }),
           py::arg("store"), py::arg("rank"), py::arg("size"), py::arg("timeout"),
           py::call_guard<py::gil_scoped_release>())
      .def("pending_works", &ProcessGroupPlexus::pendingWorks,
           "Operations of this group still in flight.")
      .def("abort_all", &ProcessGroupPlexus::abortAll, py::call_guard<py::gil_scoped_release>(),
           "Fails every pending operation here and on the peers waiting for this rank.");
#if PLEXUS_TORCH_V2
  using plexus_torch::PlexusProcessGroup;
  py::class_<PlexusProcessGroup, c10d::ProcessGroup, c10::intrusive_ptr<PlexusProcessGroup>>(
      m, "PlexusProcessGroup");
  m.def(
      "create_process_group",
      [](const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
         std::chrono::milliseconds timeout) {
        auto backend = c10::make_intrusive<ProcessGroupPlexus>(store, rank, size, timeout);
        auto pg = c10::make_intrusive<PlexusProcessGroup>(store, rank, size);
        pg->setBackend(c10::DeviceType::CPU, c10d::ProcessGroup::BackendType::CUSTOM, backend);
#ifdef PLEXUS_TORCH_CUDA
        pg->setBackend(c10::DeviceType::CUDA, c10d::ProcessGroup::BackendType::CUSTOM, backend);
#endif
        pg->setDefaultBackend(c10d::ProcessGroup::BackendType::CUSTOM);
        return pg;
      },
      py::arg("store"), py::arg("rank"), py::arg("size"), py::arg("timeout"),
      py::call_guard<py::gil_scoped_release>(),
      "A ProcessGroup named \"plexus\" whose CPU backend is a ProcessGroupPlexus.");
#endif
  m.attr("built_with_torch") = TORCH_VERSION;
#ifdef PLEXUS_TORCH_CUDA
  m.attr("built_with_cuda") = true;
  // Where the CUDA path's NCCL functions come from (Plexus's library, not PyTorch's NCCL).
  m.def("cuda_nccl_library", []() { return plexus_torch::ncclFns().library; });
#else
  m.attr("built_with_cuda") = false;
#endif
}
