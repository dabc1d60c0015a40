// CPU gate passes of the LLTM cell. Compiled once per ISA (DEFAULT, AVX2, AVX512): see
// ops/common/cpu_isa.h. Rows (batch entries) run in parallel; within a row, a Vectorized body
// (exp/expm1/tanh from Sleef, as ATen's own activations) and a scalar tail, both calling the
// shared math of lltm_math.h in the op-math type. Every element is computed independently, so
// results do not depend on the number of threads.
#include <ATen/Parallel.h>

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
        const auto r = math::cell_forward<ScalarOps, opmath_t>(g[j], g[S + j], g[2 * S + j], old_cell(b, j));
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
        const auto r = math::cell_backward<ScalarOps, opmath_t>(grad_h(b, j), grad_cell(b, j), new_cell(b, j),
                                                     gates(b, j), gates(b, S + j), gates(b, 2 * S + j));
        dg[j] = r.d_pre_input, dg[S + j] = r.d_pre_output, dg[2 * S + j] = r.d_pre_candidate;
        dc[j] = r.d_old_cell;
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

// lltm's double backward (cold: only create_graph=True takes it): scalar lambdas over the
// TensorIterator of make_cell_iter, which splits the work across threads.
void cell_backward_kernel(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::cpu_kernel_multiple_outputs(
        iter, [](scalar_t gh, scalar_t gc, scalar_t pi, scalar_t po, scalar_t pc, scalar_t old) {
          const auto r = math::cell_backward_from_pre<ScalarOps, opmath_t>(gh, gc, pi, po, pc, old);
          return std::tuple<scalar_t, scalar_t, scalar_t, scalar_t>(r.d_pre_input, r.d_pre_output,
                                                                    r.d_pre_candidate, r.d_old_cell);
        });
  });
}

void cell_double_backward_kernel(at::TensorIteratorBase& iter) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(), "myops_lltm_cell_double_backward_cpu", [&] {
    using opmath_t = at::opmath_type<scalar_t>;
    at::native::cpu_kernel_multiple_outputs(
        iter, [](scalar_t ui, scalar_t uo, scalar_t uc, scalar_t uold, scalar_t gh, scalar_t gc, scalar_t pi,
                 scalar_t po, scalar_t pc, scalar_t old) {
          const auto r = math::cell_double_backward<ScalarOps, opmath_t>(ui, uo, uc, uold, gh, gc, pi, po, pc, old);
          return std::tuple<scalar_t, scalar_t, scalar_t, scalar_t, scalar_t, scalar_t>(
              r.d_grad_h, r.d_grad_cell, r.d_pre_input, r.d_pre_output, r.d_pre_candidate, r.d_old_cell);
        });
  });
}

}  // namespace CPU_CAPABILITY
}  // namespace myops::ops::lltm
