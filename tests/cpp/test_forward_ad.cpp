// Forward-mode AD from a C++ host (no Python): dual tensors at forward-AD level 0, as
// torch.autograd.forward_ad makes them. The tangents of myops::lltm and myops::muladd equal
// those of the same formulas written with ATen ops (ATen's own forward-mode formulas), and an op
// without a tangent formula raises instead of returning none.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <myops/elementwise.h>
#include <myops/lltm.h>
#include <torch/csrc/autograd/forward_grad.h>

namespace {

// A forward-AD level for the test's duration (torch.autograd.forward_ad.dual_level()).
struct DualLevel {
  uint64_t level = torch::autograd::ForwardADLevel::get_next_idx();
  ~DualLevel() { torch::autograd::ForwardADLevel::release_idx(level); }
};

at::Tensor dual(const at::Tensor& primal, const at::Tensor& tangent, uint64_t level) {
  at::Tensor t = primal.clone();
  t._set_fw_grad(tangent, level, /*is_inplace_op=*/false);
  return t;
}

std::vector<at::Tensor> duals(const std::vector<at::Tensor>& primals, uint64_t level) {
  std::vector<at::Tensor> out;
  for (const auto& p : primals) out.push_back(dual(p, at::randn_like(p), level));
  return out;
}

TEST(ForwardAD, LltmTangentsMatchAtenFormula) {
  at::manual_seed(0);
  const std::vector<at::Tensor> primals = {at::randn({3, 4}, at::kDouble), at::randn({30, 14}, at::kDouble) * 0.3,
                                           at::randn({30}, at::kDouble), at::randn({3, 10}, at::kDouble),
                                           at::randn({3, 10}, at::kDouble)};
  DualLevel dl;
  const auto a = duals(primals, dl.level);
  const auto [h, c] = myops::lltm(a[0], a[1], a[2], a[3], a[4]);
  const auto gates = at::addmm(a[2], at::cat({a[3], a[0]}, 1), a[1].t()).chunk(3, 1);
  const at::Tensor want_c = a[4] + at::elu(gates[2]) * at::sigmoid(gates[0]);
  const at::Tensor want_h = at::tanh(want_c) * at::sigmoid(gates[1]);
  ASSERT_TRUE(h._fw_grad(dl.level).defined());
  ASSERT_TRUE(c._fw_grad(dl.level).defined());
  EXPECT_TRUE(at::allclose(h._fw_grad(dl.level), want_h._fw_grad(dl.level), 1e-10, 1e-12));
  EXPECT_TRUE(at::allclose(c._fw_grad(dl.level), want_c._fw_grad(dl.level), 1e-10, 1e-12));
}

TEST(ForwardAD, MuladdTangentBroadcast) {
  at::manual_seed(0);
  DualLevel dl;
  const auto a = duals({at::randn({4, 5}, at::kDouble), at::randn({5}, at::kDouble)}, dl.level);
  const at::Tensor y = myops::muladd(a[0], a[1], 0.5);
  const at::Tensor want = a[0] * a[1] + 0.5;
  EXPECT_TRUE(at::allclose(y._fw_grad(dl.level), want._fw_grad(dl.level), 1e-12, 1e-12));
}

TEST(ForwardAD, LltmBackwardRaises) {
  DualLevel dl;
  const at::Tensor g = dual(at::randn({2, 3}), at::randn({2, 3}), dl.level);
  const at::Tensor gates = at::rand({2, 9}), X = at::randn({2, 7}), w = at::randn({9, 7}), cell = at::randn({2, 3});
  try {
    myops::lltm_backward(g, g, cell, gates, X, w);
    FAIL() << "expected NotImplementedError";
  } catch (const c10::NotImplementedError& e) {
    EXPECT_NE(std::string(e.what()).find("myops.lltm_backward: forward-mode AD"), std::string::npos) << e.what();
  }
}

}  // namespace
