// Mapping torch tensors and reduce ops onto Plexus buffers, datatypes and reduction ops, with the
// checks (CPU, dense, sizes) and messages that say which operation and which argument failed.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "compat.hpp"
#include "plexus/plexus.hpp"

namespace plexus_torch {

// How a reduction runs: Plexus datatype and op, elements per tensor element (2 for complex), and
// an optional factor applied before summing (PREMUL_SUM).
struct ReduceSpec {
  plexus::DataType type = plexus::DataType::kFloat32;
  plexus::RedOp op = plexus::RedOp::kSum;
  size_t factor = 1;
  std::variant<std::monostate, double, at::Tensor> preMul;
};

// Throws unless `t` is a dense (strided) CPU tensor.
void checkTensor(const at::Tensor& t, const std::string& what);
// The only tensor of a single-tensor operation.
at::Tensor& single(std::vector<at::Tensor>& tensors, const std::string& what);
// Throws unless `t` has the dtype and element count of `like`.
void checkSameShape(const at::Tensor& t, const at::Tensor& like, const std::string& what,
                    const std::string& role);

// Reduction of `dtype` with `op`; throws (naming both) when Plexus cannot reduce them.
ReduceSpec reduceSpec(at::ScalarType dtype, const c10d::ReduceOp& op, const std::string& what);
// Multiplies `buffer` in place by the PREMUL_SUM factor, if any.
void applyPreMul(const ReduceSpec& spec, at::Tensor& buffer);

// "plexus all_reduce of 1024 x float" (what errors start with).
std::string describe(const char* op, const at::Tensor& t);
size_t byteSize(const at::Tensor& t);

}  // namespace plexus_torch
