// Python module plexus_torch._C: the ProcessGroupPlexus class that plexus_torch registers as the
// "plexus" torch.distributed backend.
#include <pybind11/chrono.h>
#include <torch/extension.h>

#include "backend.hpp"

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
  m.attr("built_with_torch") = TORCH_VERSION;
}
