// Autocast policy of the elementwise family (README, "Works with"): none, like ATen's mul and
// add, which are on no autocast list: the ops keep their type promotion (bfloat16 * float32 ->
// float32) under torch.autocast. Registered as explicit fallthroughs (the same behaviour as
// PyTorch's global fallthrough at the autocast keys) so that the policy is written down.
#include <torch/library.h>

#include "ops/common/autocast.h"

namespace myops::ops::elementwise {
namespace {

template <c10::DispatchKey key>
void register_autocast(torch::Library& m) {
  autocast::Autocast<key>::fall_through(m, {"muladd", "mul", "add", "add_out"});
}

}  // namespace

MYOPS_AUTOCAST_IMPL(register_autocast)

}  // namespace myops::ops::elementwise
