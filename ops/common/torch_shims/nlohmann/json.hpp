// A stand-in for <nlohmann/json.hpp>, on the include path only when torch's include folder
// lacks it (CMakeLists.txt). torch's ATen/functorch/Interpreter.h, which the vmap batching rules
// need (through DynamicLayer.h: the current vmap level), includes <nlohmann/json.hpp> for its
// inline serialize()/deserialize() members, but the torch wheels do not ship that header.
// myops never calls those members (so they are never emitted here; torch's own definitions are
// the only ones), so this only has to let Interpreter.h compile: every function throws.
#pragma once

#include <c10/util/Exception.h>

#include <string>

namespace nlohmann {

class json {
 public:
  json() = default;
  template <typename T>
  explicit json(const T&) {
    unavailable();
  }
  std::string dump() const { unavailable(); }
  static json parse(const std::string&) { unavailable(); }
  template <typename T>
  T get() const {
    unavailable();
  }

 private:
  [[noreturn]] static void unavailable() {
    TORCH_CHECK(false, "myops: functorch interpreter (de)serialization is not available in libmyops.so");
  }
};

}  // namespace nlohmann
