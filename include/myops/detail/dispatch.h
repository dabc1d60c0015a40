// How the typed C++ API reaches an op: looked up once in c10's dispatcher, then called with
// its exact C++ signature. Calling through the dispatcher (not the kernels directly) means
// autograd, autocast, every backend (CPU, CUDA, Meta) and tracing apply, as for ATen's ops.
#pragma once

#include <ATen/core/dispatch/Dispatcher.h>

namespace myops::detail {

// The operator `name` ("myops::bias_act") with the C++ signature `Signature`. Throws a
// c10::Error naming the op when libmyops.so is not loaded in this process.
template <typename Signature>
c10::TypedOperatorHandle<Signature> typed_op(const char* name, const char* overload = "") {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, overload).typed<Signature>();
}

}  // namespace myops::detail
