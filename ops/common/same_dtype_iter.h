// The TensorIterator of a kernel whose operands all share one dtype and whose outputs it has just
// allocated (ops/common/output.h): bias_act's and lltm's cell kernels.
#pragma once

#include <ATen/TensorIterator.h>

#include <functional>
#include <initializer_list>

namespace myops {

// The iterator borrows its operands (TensorIteratorConfig::add_output / add_const_input keep a
// pointer to the Tensor object, and kernels may read them back with iter.tensor(k)): they must
// outlive it. So the operands are references to named tensors; a temporary (say a view made in
// the call's arguments, destroyed at the end of the statement that built the iterator) does not
// compile.
using TensorRefs = std::initializer_list<std::reference_wrapper<const at::Tensor>>;

// Fresh outputs cannot overlap the inputs, so the overlap check is skipped; the dtypes were
// checked with the op's own messages, and check_all_same_dtype only guards that.
inline at::TensorIterator same_dtype_iter(TensorRefs outputs, TensorRefs inputs) {
  at::TensorIteratorConfig config;
  config.set_check_mem_overlap(false).check_all_same_dtype(true);
  for (const at::Tensor& output : outputs) config.add_output(output);
  for (const at::Tensor& input : inputs) config.add_const_input(input);
  return config.build();
}

}  // namespace myops
