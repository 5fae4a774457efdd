// Tensor, datatype and reduce-op mapping (tensor_args.hpp).
#include "tensor_args.hpp"

#include <optional>

namespace plexus_torch {
namespace {

// The PREMUL_SUM factor; its field names changed across PyTorch versions (S is the supplement
// type, NCCLPreMulSumSupplement or the name it is an alias of).
template <class S>
bool premulFactor(const c10d::_SupplementBase* base, ReduceSpec& spec) {
  {
    const auto* s = dynamic_cast<const S*>(base);
    if (s == nullptr) return false;
    if constexpr (requires(const S* x) { x->tensor_factor; }) {
      if (s->tensor_factor.defined()) {
        spec.preMul = s->tensor_factor;
        return true;
      }
    }
    if constexpr (requires(const S* x) { x->tensor_factors; }) {
      if (!s->tensor_factors.empty()) {
        spec.preMul = s->tensor_factors.front();
        return true;
      }
    }
    spec.preMul = s->double_factor;
    return true;
  }
}

std::optional<plexus::DataType> realType(at::ScalarType s) {
  switch (s) {
    case at::kFloat:
      return plexus::DataType::kFloat32;
    case at::kDouble:
      return plexus::DataType::kFloat64;
    case at::kHalf:
      return plexus::DataType::kFloat16;
    case at::kBFloat16:
      return plexus::DataType::kBfloat16;
    case at::kChar:
      return plexus::DataType::kInt8;
    case at::kByte:
      return plexus::DataType::kUint8;
    case at::kInt:
      return plexus::DataType::kInt32;
    case at::kLong:
      return plexus::DataType::kInt64;
#if PLEXUS_TORCH_AT_LEAST(2, 3)
    case at::kUInt32:
      return plexus::DataType::kUint32;
    case at::kUInt64:
      return plexus::DataType::kUint64;
#endif
#if PLEXUS_TORCH_AT_LEAST(2, 1)
    case at::ScalarType::Float8_e4m3fn:
      return plexus::DataType::kFp8E4M3;
    case at::ScalarType::Float8_e5m2:
      return plexus::DataType::kFp8E5M2;
#endif
    default:
      return std::nullopt;
  }
}

const char* opName(c10d::ReduceOp::RedOpType op) {
  switch (op) {
    case c10d::ReduceOp::SUM:
      return "SUM";
    case c10d::ReduceOp::AVG:
      return "AVG";
    case c10d::ReduceOp::PRODUCT:
      return "PRODUCT";
    case c10d::ReduceOp::MIN:
      return "MIN";
    case c10d::ReduceOp::MAX:
      return "MAX";
    case c10d::ReduceOp::BAND:
      return "BAND";
    case c10d::ReduceOp::BOR:
      return "BOR";
    case c10d::ReduceOp::BXOR:
      return "BXOR";
    case c10d::ReduceOp::PREMUL_SUM:
      return "PREMUL_SUM";
    default:
      return "UNUSED";
  }
}

[[noreturn]] void unsupported(const std::string& what, at::ScalarType dtype,
                              c10d::ReduceOp::RedOpType op, const char* why) {
  throwBackendError(what + ": cannot reduce " + std::string(c10::toString(dtype)) + " with " +
                    opName(op) + " (" + why + ")");
}

#ifdef PLEXUS_TORCH_CUDA
const std::string kCudaOps =
    " here (CUDA tensors: all_reduce, broadcast, reduce, all_gather, all_gather_into_tensor, "
    "reduce_scatter_tensor)";
#else
const std::string kCudaOps = " (this build of plexus_torch has no CUDA support)";
#endif

}  // namespace

void checkTensor(const at::Tensor& t, const std::string& what) {
  if (!t.defined()) throwBackendError(what + ": got an undefined tensor");
  if (t.device().type() != c10::DeviceType::CPU)
    throwBackendError(what + ": the plexus backend takes CPU tensors" + kCudaOps +
                      "; got a tensor on " + t.device().str());
  if (t.layout() != c10::kStrided)
    throwBackendError(what + ": the plexus backend takes dense (strided) tensors; got layout " +
                      c10::str(t.layout()));
}

at::Tensor& single(std::vector<at::Tensor>& tensors, const std::string& what) {
  if (tensors.size() != 1)
    throwBackendError(what + ": takes exactly one tensor per rank; got " +
                      std::to_string(tensors.size()));
  checkTensor(tensors[0], what);
  return tensors[0];
}

void checkSameShape(const at::Tensor& t, const at::Tensor& like, const std::string& what,
                    const std::string& role) {
  checkTensor(t, what);
  if (t.scalar_type() != like.scalar_type())
    throwBackendError(what + ": " + role + " has dtype " + c10::toString(t.scalar_type()) +
                      ", expected " + c10::toString(like.scalar_type()));
  if (t.numel() != like.numel())
    throwBackendError(what + ": " + role + " has " + std::to_string(t.numel()) +
                      " elements, expected " + std::to_string(like.numel()));
}

ReduceSpec reduceSpec(at::ScalarType dtype, const c10d::ReduceOp& rop, const std::string& what) {
  ReduceSpec spec;
  auto op = rop.op_;
  switch (op) {
    case c10d::ReduceOp::SUM:
      spec.op = plexus::RedOp::kSum;
      break;
    case c10d::ReduceOp::AVG:
      spec.op = plexus::RedOp::kAvg;
      break;
    case c10d::ReduceOp::PRODUCT:
      spec.op = plexus::RedOp::kProd;
      break;
    case c10d::ReduceOp::MIN:
      spec.op = plexus::RedOp::kMin;
      break;
    case c10d::ReduceOp::MAX:
      spec.op = plexus::RedOp::kMax;
      break;
    case c10d::ReduceOp::PREMUL_SUM:
      spec.op = plexus::RedOp::kSum;
#if PLEXUS_TORCH_V2
      if (!premulFactor<c10d::NCCLPreMulSumSupplement>(rop.supplement_.get(), spec))
        unsupported(what, dtype, op, "no factor found in the op");
#else
      unsupported(what, dtype, op, "PREMUL_SUM needs PyTorch 2.x");
#endif
      break;
    case c10d::ReduceOp::BAND:
    case c10d::ReduceOp::BOR:
    case c10d::ReduceOp::BXOR:
      if (dtype != at::kBool || op == c10d::ReduceOp::BXOR)
        unsupported(what, dtype, op,
                    "Plexus reduces with SUM, PRODUCT, MIN, MAX, AVG and PREMUL_SUM; BAND and BOR "
                    "only on bool");
      break;
    default:
      unsupported(what, dtype, op, "unknown op");
  }
  if (dtype == at::kBool) {
    // Logical semantics, as Gloo: sum/max/or is any, product/min/and is all.
    spec.type = plexus::DataType::kUint8;
    if (op == c10d::ReduceOp::SUM || op == c10d::ReduceOp::MAX || op == c10d::ReduceOp::BOR)
      spec.op = plexus::RedOp::kMax;
    else if (op == c10d::ReduceOp::PRODUCT || op == c10d::ReduceOp::MIN ||
             op == c10d::ReduceOp::BAND)
      spec.op = plexus::RedOp::kMin;
    else
      unsupported(what, dtype, op, "bool takes SUM, PRODUCT, MIN, MAX, BAND, BOR");
    return spec;
  }
  if (at::isComplexType(dtype)) {
    if (op != c10d::ReduceOp::SUM && op != c10d::ReduceOp::AVG && op != c10d::ReduceOp::PREMUL_SUM)
      unsupported(what, dtype, op, "complex tensors take SUM, AVG and PREMUL_SUM");
    auto real = realType(c10::toRealValueType(dtype));
    if (!real) unsupported(what, dtype, op, "no Plexus type for its real part");
    spec.type = *real;
    spec.factor = 2;
    return spec;
  }
  auto t = realType(dtype);
  if (!t)
    unsupported(what, dtype, op,
                "Plexus reduces int8, uint8, int32, int64, uint32, uint64, float16, bfloat16, "
                "float32, float64, float8 and bool");
  if (spec.preMul.index() != 0 && !at::isFloatingType(dtype))
    unsupported(what, dtype, op, "PREMUL_SUM takes floating-point tensors");
  spec.type = *t;
  return spec;
}

void applyPreMul(const ReduceSpec& spec, at::Tensor& buffer) {
  if (const double* f = std::get_if<double>(&spec.preMul)) buffer.mul_(*f);
  if (const at::Tensor* t = std::get_if<at::Tensor>(&spec.preMul))
    buffer.mul_(t->to(c10::kCPU).reshape({}));
}

std::string describe(const char* op, const at::Tensor& t) {
  return std::string("plexus ") + op + " of " + std::to_string(t.numel()) + " x " +
         c10::toString(t.scalar_type());
}

size_t byteSize(const at::Tensor& t) {
  return static_cast<size_t>(t.numel()) * t.element_size();
}

}  // namespace plexus_torch
