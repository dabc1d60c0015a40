// CPU gate passes of the LLTM cell. Compiled once per ISA (DEFAULT, AVX2, AVX512): see
// ops/common/cpu_isa.h. Rows (batch entries) run in parallel; within a row, a Vectorized body
// and a scalar tail, both calling the shared math of lltm_math.h in the op-math type (float
// exp/expm1/tanh from cpu_fast_math.h, the same bits in both; double from Sleef, as in ATen).
// Every element is computed independently, so results do not depend on the number of threads.
#include <ATen/Parallel.h>

#include <array>
#include <tuple>

#include "ops/common/cpu_vec.h"
#include "ops/lltm/lltm_kernels.h"
#include "ops/lltm/lltm_math.h"

namespace myops::ops::lltm {
namespace CPU_CAPABILITY {
namespace {

// Vectorized<scalar_t>::size() consecutive elements as op-math vectors (ops/common/cpu_vec.h).
template <typename scalar_t>
struct Lanes : Opmath<scalar_t> {
  static int64_t width() { return at::vec::Vectorized<scalar_t>::size(); }
};

// Rows per task: enough elements that the threads' start-up cost is amortized.
int64_t grain_rows(int64_t state) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(state, 1)); }

template <typename scalar_t>
void forward_gates_typed(const at::Tensor& gates_t, const at::Tensor& old_cell_t,
                         const at::Tensor& new_h_t, const at::Tensor& new_cell_t) {
  using opmath_t = at::opmath_type<scalar_t>;
  using L = Lanes<scalar_t>;
  const int64_t batch = gates_t.size(0), S = new_h_t.size(1);
  scalar_t* gates = gates_t.data_ptr<scalar_t>();  // contiguous [B, 3S]
  scalar_t* new_h = new_h_t.data_ptr<scalar_t>();  // contiguous [B, S]
  scalar_t* new_cell = new_cell_t.data_ptr<scalar_t>();
  const auto old_cell = strided_2d<const scalar_t>(old_cell_t);
  const bool vector_ok = old_cell.col_stride == 1;

  at::parallel_for(0, batch, grain_rows(S), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t b = row_begin; b < row_end; ++b) {
      scalar_t* g = gates + b * 3 * S;
      scalar_t* h_out = new_h + b * S;
      scalar_t* c_out = new_cell + b * S;
      const scalar_t* c_in = &old_cell(b, 0);
      int64_t j = 0;
      if (vector_ok) {
        for (; j + L::width() <= S; j += L::width()) {
          const auto gi = L::load(g + j), go = L::load(g + S + j), gc = L::load(g + 2 * S + j);
          const auto oc = L::load(c_in + j);
          typename L::Parts ig, og, cc, nc, nh;
          for (int k = 0; k < L::kParts; ++k) {
            const auto r = math::cell_forward<VecOps>(gi[k], go[k], gc[k], oc[k]);
            ig[k] = r.input_gate, og[k] = r.output_gate, cc[k] = r.candidate;
            nc[k] = r.new_cell, nh[k] = r.new_h;
          }
          L::store(g + j, ig), L::store(g + S + j, og), L::store(g + 2 * S + j, cc);
          L::store(c_out + j, nc), L::store(h_out + j, nh);
        }
      }
      for (; j < S; ++j) {
        const auto r = math::cell_forward<CpuScalarOps, opmath_t>(g[j], g[S + j], g[2 * S + j], old_cell(b, j));
        g[j] = r.input_gate, g[S + j] = r.output_gate, g[2 * S + j] = r.candidate;
        c_out[j] = r.new_cell, h_out[j] = r.new_h;
      }
    }
  });
}

template <typename scalar_t>
void backward_gates_typed(const at::Tensor& grad_h_t, const at::Tensor& grad_cell_t,
                          const at::Tensor& new_cell_t, const at::Tensor& gates_t,
                          const at::Tensor& d_gates_t, const at::Tensor& grad_old_cell_t) {
  using opmath_t = at::opmath_type<scalar_t>;
  using L = Lanes<scalar_t>;
  const int64_t batch = new_cell_t.size(0), S = new_cell_t.size(1);
  const auto grad_h = strided_2d<const scalar_t>(grad_h_t);
  const auto grad_cell = strided_2d<const scalar_t>(grad_cell_t);
  const auto new_cell = strided_2d<const scalar_t>(new_cell_t);
  const auto gates = strided_2d<const scalar_t>(gates_t);
  scalar_t* d_gates = d_gates_t.data_ptr<scalar_t>();  // contiguous [B, 3S]
  scalar_t* grad_old_cell = grad_old_cell_t.data_ptr<scalar_t>();  // contiguous [B, S]
  // autograd's gradient of a sum() is expanded (stride 0): such rows take the scalar path.
  const bool vector_ok = grad_h.col_stride == 1 && grad_cell.col_stride == 1 &&
                         new_cell.col_stride == 1 && gates.col_stride == 1;

  at::parallel_for(0, batch, grain_rows(S), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t b = row_begin; b < row_end; ++b) {
      scalar_t* dg = d_gates + b * 3 * S;
      scalar_t* dc = grad_old_cell + b * S;
      int64_t j = 0;
      if (vector_ok) {
        const scalar_t* gh = &grad_h(b, 0);
        const scalar_t* gc = &grad_cell(b, 0);
        const scalar_t* nc = &new_cell(b, 0);
        const scalar_t* g = &gates(b, 0);
        for (; j + L::width() <= S; j += L::width()) {
          const auto vgh = L::load(gh + j), vgc = L::load(gc + j), vnc = L::load(nc + j);
          const auto ig = L::load(g + j), og = L::load(g + S + j), cc = L::load(g + 2 * S + j);
          typename L::Parts di, dout, dcand, dold;
          for (int k = 0; k < L::kParts; ++k) {
            const auto r = math::cell_backward<VecOps>(vgh[k], vgc[k], vnc[k], ig[k], og[k], cc[k]);
            di[k] = r.d_pre_input, dout[k] = r.d_pre_output, dcand[k] = r.d_pre_candidate;
            dold[k] = r.d_old_cell;
          }
          L::store(dg + j, di), L::store(dg + S + j, dout), L::store(dg + 2 * S + j, dcand);
          L::store(dc + j, dold);
        }
      }
      for (; j < S; ++j) {
        const auto r = math::cell_backward<CpuScalarOps, opmath_t>(grad_h(b, j), grad_cell(b, j), new_cell(b, j),
                                                     gates(b, j), gates(b, S + j), gates(b, 2 * S + j));
        dg[j] = r.d_pre_input, dg[S + j] = r.d_pre_output, dg[2 * S + j] = r.d_pre_candidate;
        dc[j] = r.d_old_cell;
      }
    }
  });
}

// The cell ops (lltm_cell, lltm_cell_backward, lltm_cell_double_backward):
// the operands of a same_dtype_iter iterator (outputs, then inputs; [B, S] each), rows split
// across threads as in the gate passes above, a Vectorized body where every operand's rows are
// contiguous and a scalar tail. fn(ops, inputs) returns the outputs (std::arrays in op-math).
// (A scalar loop over the iterator ran at ~65 ns an element, its transcendentals dominating:
// vmap over these ops, whose rule makes one call of V * B rows, was then no faster than V calls.)
template <typename scalar_t, size_t n_out, size_t n_in, typename Fn>
void cell_rows(at::TensorIteratorBase& iter, Fn fn) {
  using opmath_t = at::opmath_type<scalar_t>;
  using L = Lanes<scalar_t>;
  constexpr size_t n = n_out + n_in;
  TORCH_INTERNAL_ASSERT(iter.ntensors() == static_cast<int>(n));
  std::array<Strided2d<scalar_t>, n> t;
  bool vector_ok = true;
  for (size_t k = 0; k < n; ++k) {
    t[k] = strided_2d<scalar_t>(iter.tensor(k));
    vector_ok = vector_ok && t[k].col_stride == 1;
  }
  const int64_t batch = iter.tensor(0).size(0), S = iter.tensor(0).size(1);
  at::parallel_for(0, batch, grain_rows(S), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t b = row_begin; b < row_end; ++b) {
      int64_t j = 0;
      if (vector_ok) {
        for (; j + L::width() <= S; j += L::width()) {
          std::array<typename L::Parts, n_in> in;
          for (size_t k = 0; k < n_in; ++k) in[k] = L::load(&t[n_out + k](b, j));
          std::array<typename L::Parts, n_out> out;
          for (int p = 0; p < L::kParts; ++p) {
            std::array<at::vec::Vectorized<opmath_t>, n_in> v;
            for (size_t k = 0; k < n_in; ++k) v[k] = in[k][p];
            const auto r = fn(VecOps{}, v);
            for (size_t k = 0; k < n_out; ++k) out[k][p] = r[k];
          }
          for (size_t k = 0; k < n_out; ++k) L::store(&t[k](b, j), out[k]);
        }
      }
      for (; j < S; ++j) {
        std::array<opmath_t, n_in> v;
        for (size_t k = 0; k < n_in; ++k) v[k] = static_cast<opmath_t>(t[n_out + k](b, j));
        const auto r = fn(CpuScalarOps{}, v);
        for (size_t k = 0; k < n_out; ++k) t[k](b, j) = static_cast<scalar_t>(r[k]);
      }
    }
  });
}

}  // namespace

void forward_gates_kernel(const at::Tensor& gates, const at::Tensor& old_cell,
                          const at::Tensor& new_h, const at::Tensor& new_cell) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gates.scalar_type(), "myops_lltm_cpu", [&] {
    forward_gates_typed<scalar_t>(gates, old_cell, new_h, new_cell);
  });
}

void backward_gates_kernel(const at::Tensor& grad_h, const at::Tensor& grad_cell,
                           const at::Tensor& new_cell, const at::Tensor& gates,
                           const at::Tensor& d_gates, const at::Tensor& grad_old_cell) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gates.scalar_type(), "myops_lltm_backward_cpu", [&] {
    backward_gates_typed<scalar_t>(grad_h, grad_cell, new_cell, gates, d_gates, grad_old_cell);
  });
}

void cell_forward_kernel(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_cpu", [&] {
    cell_rows<scalar_t, 2, 4>(iter, [](auto ops, const auto& in) {
      const auto r = math::cell_forward<decltype(ops)>(in[0], in[1], in[2], in[3]);
      return std::array{r.new_h, r.new_cell};
    });
  });
}

void cell_backward_kernel(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_backward_cpu", [&] {
    cell_rows<scalar_t, 4, 6>(iter, [](auto ops, const auto& in) {
      const auto r = math::cell_backward_from_pre<decltype(ops)>(in[0], in[1], in[2], in[3], in[4], in[5]);
      return std::array{r.d_pre_input, r.d_pre_output, r.d_pre_candidate, r.d_old_cell};
    });
  });
}

void cell_double_backward_kernel(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_double_backward_cpu", [&] {
    cell_rows<scalar_t, 6, 10>(iter, [](auto ops, const auto& in) {
      const auto r = math::cell_double_backward<decltype(ops)>(in[0], in[1], in[2], in[3], in[4], in[5], in[6],
                                                                 in[7], in[8], in[9]);
      return std::array{r.d_grad_h, r.d_grad_cell, r.d_pre_input, r.d_pre_output, r.d_pre_candidate, r.d_old_cell};
    });
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::lltm
