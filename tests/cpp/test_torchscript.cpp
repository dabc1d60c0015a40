// A TorchScript function using the ops, compiled from source in C++: the ops are known to
// TorchScript as soon as libmyops.so is linked.
//
// torch::jit::compile(source) resolves only the name `torch` (to aten), so source compiled by
// it cannot name a custom op namespace. compile_with_myops() is torch::jit::compile plus one
// name, `myops`, bound to the myops:: operator namespace, exactly as Python's resolver binds
// `torch.ops.myops` when torch.jit.script compiles a function.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/api/compilation_unit.h>
#include <torch/csrc/jit/frontend/resolver.h>
#include <torch/csrc/jit/frontend/sugared_value.h>

namespace {

struct MyopsResolver : torch::jit::Resolver {
  std::shared_ptr<torch::jit::SugaredValue> resolveValue(const std::string& name, torch::jit::GraphFunction& fn,
                                                         const torch::jit::SourceRange& loc) override {
    if (name == "myops") return std::make_shared<torch::jit::BuiltinModule>("myops");
    return torch::jit::nativeResolver()->resolveValue(name, fn, loc);
  }
  c10::TypePtr resolveType(const std::string& name, const torch::jit::SourceRange& loc) override {
    return torch::jit::nativeResolver()->resolveType(name, loc);
  }
};

std::shared_ptr<torch::jit::CompilationUnit> compile_with_myops(const std::string& source) {
  auto unit = std::make_shared<torch::jit::CompilationUnit>();
  unit->define(std::nullopt, source, std::make_shared<MyopsResolver>(), nullptr);
  return unit;
}

TEST(TorchScript, CompiledFromSourceRunsEveryOp) {
  const auto unit = compile_with_myops(R"JIT(
def block(a: Tensor, b: Tensor):
    out = torch.empty_like(a)
    myops.add_out(a, b, out)
    return myops.muladd(out, b, 0.5) + myops.mul(a, b) - myops.add(a, b)
)JIT");
  const std::string graph = torch::jit::toGraphFunction(unit->get_function("block")).graph()->toString();
  for (const char* node : {"myops::add_out", "myops::muladd", "myops::mul", "myops::add"}) {
    EXPECT_NE(graph.find(node), std::string::npos) << node << " not in\n" << graph;
  }
  const at::Tensor a = at::randn({4, 5}), b = at::randn({5});
  const at::Tensor got = unit->run_method("block", a, b).toTensor();
  const at::Tensor want = (a + b) * b + 0.5 + a * b - (a + b);
  EXPECT_TRUE(at::allclose(got, want, 1e-5, 1e-6));
}

TEST(TorchScript, UnknownOpIsAClearError) {
  try {
    compile_with_myops("def f(a: Tensor):\n    return myops.no_such_op(a)\n");
    FAIL() << "compiled a call to an op that does not exist";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("myops::no_such_op"), std::string::npos) << e.what();
  }
}

}  // namespace
