// muladd, mul, add, add_out: argument checks and output metadata, shared by the CPU, CUDA and
// Meta kernels (templated on int64_t / c10::SymInt where sizes can be symbolic).
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/result_type.h>
#include <c10/core/SymInt.h>
#include <c10/util/SmallVector.h>

#include "ops/common/checks.h"
#include "ops/common/output.h"

namespace myops::ops::elementwise {

// PyTorch's broadcasting rule; RuntimeError naming the op when the shapes do not broadcast.
template <typename T>
c10::SmallVector<T, 6> broadcast_shapes(const char* op, c10::ArrayRef<T> a, c10::ArrayRef<T> b) {
  const size_t ndim = std::max(a.size(), b.size());
  c10::SmallVector<T, 6> out(ndim, T(1));
  for (size_t i = 0; i < ndim; ++i) {  // i counts from the last dimension
    const bool has_a = i < a.size(), has_b = i < b.size();
    const T da = has_a ? a[a.size() - 1 - i] : T(1);
    const T db = has_b ? b[b.size() - 1 - i] : T(1);
    if (da == 1) {
      out[ndim - 1 - i] = db;
    } else if (db == 1 || da == db) {
      out[ndim - 1 - i] = da;
    } else {
      TORCH_CHECK(false, op, ": a and b cannot be broadcast together: shapes ", a, " and ", b,
                  " differ (", da, " vs ", db, ") at dimension ", int64_t(ndim) - 1 - int64_t(i),
                  " of the result");
    }
  }
  return out;
}

// The result of check_inputs: the result dtype (PyTorch's type promotion, e.g. float16 with
// float32 -> float32) and the device the op runs on (a CPU 0-dim tensor follows the other).
struct Checked {
  at::ScalarType dtype;
  c10::Device device;
};

// The checks every entry point makes before doing anything: float dtypes, one device.
inline Checked check_inputs(const char* op, const at::Tensor& a, const at::Tensor& b) {
  check_float_dtype(op, "a", a);
  check_float_dtype(op, "b", b);
  const c10::Device device = check_same_device(op, "a", a, "b", b);
  // (one dtype needs no promotion, and at::result_type is a dispatcher call)
  const at::ScalarType dtype = a.scalar_type() == b.scalar_type() ? a.scalar_type() : at::result_type(a, b);
  return {dtype, device};
}

// The output's memory format, the same for every backend (so that Meta tensors describe the
// real ones exactly): channels_last(_3d) when an input that is not broadcast is in that format,
// contiguous otherwise.
template <typename T>
at::MemoryFormat output_memory_format(c10::ArrayRef<T> out_shape, const at::Tensor& a,
                                      const at::Tensor& b) {
  if (out_shape.size() != 4 && out_shape.size() != 5) return at::MemoryFormat::Contiguous;
  for (const at::Tensor* t : {&a, &b}) {
    if (t->dim() != static_cast<int64_t>(out_shape.size())) continue;
    const auto format = t->suggest_memory_format();
    if (format != at::MemoryFormat::Contiguous) return format;
  }
  return at::MemoryFormat::Contiguous;
}

// The output tensor of muladd/mul/add, allocated on the checked device's backend (Meta
// included, with symbolic sizes; the backends' sizes are concrete, and their outputs skip the
// dispatcher: ops/common/output.h); `checked` is what check_inputs returned.
inline at::Tensor empty_output(const char* op, const at::Tensor& a, const at::Tensor& b,
                               const Checked& checked) {
  const auto options = a.options().dtype(checked.dtype).device(checked.device);
  if (checked.device.is_meta()) {
    const auto shape = broadcast_shapes<c10::SymInt>(op, a.sym_sizes(), b.sym_sizes());
    return at::empty_symint(shape, options, output_memory_format<c10::SymInt>(shape, a, b));
  }
  const auto shape = broadcast_shapes<int64_t>(op, a.sizes(), b.sizes());
  return new_output(shape, options, output_memory_format<int64_t>(shape, a, b));
}

// add_out's rules for `out`: the broadcast shape and result dtype already (no silent resize
// or cast), the inputs' device, and no partial overlap with an input (out may *be* a or b).
inline void check_out(const char* op, const at::Tensor& a, const at::Tensor& b,
                      const at::Tensor& out) {
  const auto [dtype, device] = check_inputs(op, a, b);
  const auto shape = broadcast_shapes<c10::SymInt>(op, a.sym_sizes(), b.sym_sizes());
  TORCH_CHECK_TYPE(out.scalar_type() == dtype, op, ": out must have the result dtype ", dtype,
                   " (the promotion of a: ", a.scalar_type(), " and b: ", b.scalar_type(),
                   "), got ", out.scalar_type());
  TORCH_CHECK(out.sym_sizes() == c10::SymIntArrayRef(shape), op,
              ": out must have the broadcast shape ", c10::SymIntArrayRef(shape), ", got ",
              out.sym_sizes(), " (out is never resized)");
  TORCH_CHECK(out.device() == device, op, ": out must be on ", device, " like the inputs, got ",
              out.device());
}

}  // namespace myops::ops::elementwise

// ----------------------------------------------------------------------------------------
// For the CPU and CUDA backends (not Meta): the TensorIterator that runs a kernel.
#include <ATen/MemoryOverlap.h>
#include <ATen/TensorIterator.h>
#include <torch/library.h>

#include "ops/elementwise/elementwise_kernels.h"

namespace myops::ops::elementwise {

// add_out only: `out` may be exactly a or b, but must not partly overlap them or itself.
inline void check_out_overlap(const char* op, const at::Tensor& a, const at::Tensor& b,
                              const at::Tensor& out) {
  TORCH_CHECK(at::has_internal_overlap(out) != at::MemOverlap::Yes, op,
              ": out has elements that share memory (e.g. it was made with expand()); "
              "writing to it would be ambiguous");
  for (const auto& [name, input] : {std::pair{"a", &a}, std::pair{"b", &b}}) {
    TORCH_CHECK(at::get_overlap_status(out, *input) != at::MemOverlapStatus::Partial, op,
                ": out partially overlaps input ", name,
                "; out must be exactly the input (in place) or not share its memory");
  }
}

// out = f(a, b), broadcast, with a and b promoted to out's dtype. CPU 0-dim tensors are
// allowed as scalars next to CUDA tensors.
inline at::TensorIterator make_binary_iter(const at::Tensor& out, const at::Tensor& a,
                                           const at::Tensor& b) {
  return at::TensorIteratorConfig()
      .set_check_mem_overlap(false)  // checked (with our own message) by check_out_overlap
      .allow_cpu_scalars(true)
      .promote_inputs_to_common_dtype(true)
      .add_output(out)
      .add_const_input(a)
      .add_const_input(b)
      .build();
}

// The op names as the error messages spell them (template arguments of the entry bodies).
inline constexpr char kMulAdd[] = "myops.muladd";
inline constexpr char kMul[] = "myops.mul";
inline constexpr char kAdd[] = "myops.add";
inline constexpr char kAddOut[] = "myops.add_out";

// The entry bodies of every backend (ops/common/entry.h): checks, then the device guard from
// the checked device, the output, the iterator, and `kernel` (the backend's loop), which also
// gets the op's scalar arguments (muladd's c).
template <typename DeviceGuard, const char* op, auto kernel, typename... Scalars>
at::Tensor binary_entry(const at::Tensor& a, const at::Tensor& b, Scalars... scalars) {
  const Checked checked = check_inputs(op, a, b);
  const DeviceGuard guard(checked.device);
  at::Tensor out = empty_output(op, a, b, checked);
  auto iter = make_binary_iter(out, a, b);
  kernel(iter, scalars...);
  return out;
}

// add_out: every check on out (shape, dtype, device, overlap) before the guard.
template <typename DeviceGuard, BinaryKernel* kernel>
void add_out_entry(const at::Tensor& a, const at::Tensor& b, at::Tensor& out) {
  check_out(kAddOut, a, b, out);
  check_out_overlap(kAddOut, a, b, out);
  const DeviceGuard guard(out.device());
  auto iter = make_binary_iter(out, a, b);
  kernel(iter);
}

// The family's kernel table for one backend: the list of op names lives here once.
template <typename DeviceGuard, MulAddKernel* muladd, BinaryKernel* mul, BinaryKernel* add>
void register_backend(torch::Library& m) {
  m.impl("muladd", &binary_entry<DeviceGuard, kMulAdd, muladd, double>);
  m.impl("mul", &binary_entry<DeviceGuard, kMul, mul>);
  m.impl("add", &binary_entry<DeviceGuard, kAdd, add>);
  m.impl("add_out", &add_out_entry<DeviceGuard, add>);
}

}  // namespace myops::ops::elementwise
