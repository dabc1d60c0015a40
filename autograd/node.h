// The autograd machinery every differentiable myops op shares: a graph node and the recording
// of a call, written the way PyTorch's own ops do it (the generated VariableType kernels and
// the Node subclasses of torch/csrc/autograd/generated/Functions.h), plus forward-mode AD.
//
// Why not torch::autograd::Function: Function<T>::apply refuses to run under any functorch
// transform (custom_function.h calls checkSupportsCppAutogradFunction: "cannot use C++
// torch::autograd::Function with functorch transforms"), because its forward runs below
// autograd and cannot take part in functorch's levels. ATen's ops are not Functions: their
// Autograd kernel builds a Node by hand (collect_next_edges, SavedVariable members),
// redispatches below autograd, attaches the outputs with set_history and computes the forward
// tangent with ordinary dispatcher calls. Under torch.func.grad/vjp/jacrev the same kernel
// simply runs on functorch's TensorWrappers (one autograd graph per level), and under
// jvp/jacfwd/forward_ad it reads the level-0 tangents, as functorch's JvpInterpreter maps each
// of its levels onto forward-AD level 0. So does every kernel in autograd/: a C++ host keeps
// C++ autograd, `torch.ops.load_library` alone is enough, and torch.func works.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/add.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <c10/util/Exception.h>
#include <c10/util/intrusive_ptr.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/saved_variable.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace myops::autograd {

using torch::autograd::variable_list;
using OptTensor = std::optional<at::Tensor>;

// ------------------------------------------------------------------------- reverse mode

// What a backward formula reads: the saved tensors (in the order saved; undefined where an
// optional argument was absent), the gradient of each output, and which inputs need one.
struct BackwardArgs {
  variable_list saved;
  variable_list grads;
  std::vector<bool> needs;  // per input edge, in the order the kernel listed its inputs
  bool needs_grad(size_t i) const { return i < needs.size() && needs[i]; }
};
// Returns one gradient per input edge (undefined: none); extra entries are ignored.
using BackwardFormula = std::function<variable_list(const BackwardArgs&)>;

// The graph node of one call (VariableType's XxxBackward0 nodes, with the formula as a callable
// so that each family's file states only its formula and what it saves).
class FormulaNode final : public torch::autograd::Node {
 public:
  FormulaNode(std::string name, BackwardFormula formula, bool materialize_grads)
      : name_(std::move(name)), formula_(std::move(formula)), materialize_grads_(materialize_grads) {}

  std::string name() const override { return name_; }

  // An input: saved as it is (its version is checked at backward, as for ATen's ops).
  void save(const at::Tensor& t) { saved_.push_back({torch::autograd::SavedVariable(t, false), false}); }
  void save(const OptTensor& t) { save(t.value_or(at::Tensor())); }
  // An output of this node, saved after set_history (no reference cycle: SavedVariable keeps
  // its data and rebuilds the grad_fn from this node at unpack).
  void save_output(const at::Tensor& t) { saved_.push_back({torch::autograd::SavedVariable(t, true), true}); }

  // Backward without retain_graph frees the saved tensors; a second backward then raises
  // PyTorch's usual "Trying to backward through the graph a second time".
  void release_variables() override {
    for (auto& s : saved_) s.var.reset_data();
  }

  variable_list apply(variable_list&& grads) override {
    BackwardArgs args;
    args.saved.reserve(saved_.size());
    for (const auto& s : saved_) args.saved.push_back(s.is_output ? s.var.unpack(getptr()) : s.var.unpack());
    bool any = false;
    for (const auto& g : grads) any = any || g.defined();
    const size_t n = num_outputs();
    if (!any) return variable_list(n);  // nothing flows back
    // An output nobody used gets an undefined gradient; formulas of multi-output ops read them
    // as zeros (torch::autograd::Function's materialize_grads) unless they handle it.
    if (materialize_grads_) {
      for (size_t i = 0; i < grads.size(); ++i) {
        if (!grads[i].defined()) grads[i] = input_metadata(i).zeros_like();
      }
    }
    args.grads = std::move(grads);
    args.needs.resize(n);
    for (size_t i = 0; i < n; ++i) args.needs[i] = should_compute_output(i);
    variable_list result = formula_(args);
    result.resize(n);
    for (size_t i = 0; i < n; ++i) {
      if (!args.needs[i]) result[i] = at::Tensor();
    }
    return result;
  }

 private:
  struct Saved {
    torch::autograd::SavedVariable var;
    bool is_output;
  };
  std::string name_;
  BackwardFormula formula_;
  bool materialize_grads_;
  std::vector<Saved> saved_;
};

// How torch owns graph nodes: std::shared_ptr<Node> (deleted through deleteNode, which
// unwinds long graphs without deep recursion) up to torch 2.14, c10::intrusive_ptr<Node> from
// 2.15. Read from Edge::function, so no version number is needed. (deleteNode is called
// unqualified on a dependent type: found by ADL only where it exists.)
template <typename Handle>
struct NodeOwnership;
template <typename Base>
struct NodeOwnership<std::shared_ptr<Base>> {
  template <typename T>
  using Ptr = std::shared_ptr<T>;
  template <typename T, typename... Args>
  static Ptr<T> make(Args&&... args) {
    return Ptr<T>(new T(std::forward<Args>(args)...), [](Base* node) { deleteNode(node); });
  }
};
template <typename Base>
struct NodeOwnership<c10::intrusive_ptr<Base>> {
  template <typename T>
  using Ptr = c10::intrusive_ptr<T>;
  template <typename T, typename... Args>
  static Ptr<T> make(Args&&... args) {
    return c10::make_intrusive<T>(std::forward<Args>(args)...);
  }
};
using Ownership = NodeOwnership<decltype(torch::autograd::Edge::function)>;
using NodePtr = Ownership::Ptr<FormulaNode>;

// A node for this call when grad mode is on and any input requires grad, else null (then the
// kernel records nothing, as VariableType's `if (_any_requires_grad)`). Its edges follow
// `inputs` in order, an absent optional included, so formulas index inputs by position.
// The formula (a lambda) becomes a std::function only when a node is made: most calls need no
// node, and the conversion heap-allocates the lambda's captures (bias_act's: ~90 bytes).
template <typename Formula, typename... Inputs>
NodePtr make_node(const char* name, Formula&& formula, const Inputs&... inputs) {
  if (!torch::autograd::compute_requires_grad(inputs...)) return NodePtr();
  NodePtr node = Ownership::make<FormulaNode>(name, BackwardFormula(std::forward<Formula>(formula)),
                                              /*materialize_grads=*/true);
  node->set_next_edges(torch::autograd::collect_next_edges(inputs...));
  return node;
}

// Makes `outputs` outputs of `node` (in order: output i's gradient is grads[i]). (A braced
// list, not a vector: no allocation on the calls that make no node, most of them.)
inline void set_history(const NodePtr& node, std::initializer_list<at::Tensor> outputs) {
  if (!node) return;
  for (const at::Tensor& output : outputs) torch::autograd::set_history(output, node);
}

// True when a tensor is one of functorch's wrappers (an input of grad/vjp/jacrev/jvp/jacfwd at
// some level). Then the kernel's call "below autograd" lands in the next level's Autograd kernel
// of that op, so it must be an op whose every output is differentiable in both modes (lltm
// itself rather than lltm_forward, whose extra outputs have no derivatives).
template <typename... Tensors>
bool functorch_wrapped(const Tensors&... tensors) {
  return (... || (tensors.defined() && tensors.key_set().has(c10::DispatchKey::FuncTorchGradWrapper)));
}

// Runs `fn` below the Autograd key (the backend kernel), as VariableType's redispatch does.
template <typename Fn>
auto below_autograd(Fn&& fn) {
  at::AutoDispatchBelowADInplaceOrView guard;
  return fn();
}

// ------------------------------------------------------------------------- forward mode
//
// As in VariableType: level 0 (functorch's jvp maps each of its levels onto it), the tangent
// formula runs after the backend kernel, through the dispatcher and with grad mode as it is,
// so that it is itself differentiable (jacrev(jacfwd(f)), hessian = jacfwd(jacrev(f))), and it
// reads the inputs' primals, never the dual tensors (a tangent must not carry a tangent of its
// own at the same level).

inline at::Tensor tangent(const at::Tensor& t) { return t.defined() ? t._fw_grad(/*level=*/0) : at::Tensor(); }
inline at::Tensor tangent(const OptTensor& t) { return t.has_value() ? tangent(*t) : at::Tensor(); }

inline at::Tensor primal(const at::Tensor& t) { return tangent(t).defined() ? t._fw_primal(/*level=*/0) : t; }
inline OptTensor primal(const OptTensor& t) {
  return t.has_value() && t->defined() ? OptTensor(primal(*t)) : std::nullopt;
}

template <typename... Tensors>
bool any_tangent(const Tensors&... tensors) {
  return (... || tangent(tensors).defined());
}

// Sets `t` (undefined: none, the output's tangent then reads as absent) as out's tangent, in
// out's dtype; it must have out's shape. A tangent that is truly zero is set as zeros.
inline void set_tangent(const at::Tensor& out, const at::Tensor& t) {
  if (!t.defined() || !out.defined()) return;
  out._set_fw_grad(t.scalar_type() == out.scalar_type() ? t : t.to(out.scalar_type()), /*level=*/0,
                   /*is_inplace_op=*/false);
}

// The sum of the defined terms (undefined when none is).
inline at::Tensor sum_defined(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return at::add(a, b);
}

// For the ops that have no tangent formula (pieces of another op's formula): NotImplementedError
// naming the op when an input carries a tangent, never a missing or zero tangent.
template <typename... Tensors>
void check_no_forward_ad(const char* op, const char* why, const Tensors&... tensors) {
  TORCH_CHECK_NOT_IMPLEMENTED(!any_tangent(tensors...), op,
                              ": forward-mode AD (torch.func.jvp, jacfwd, torch.autograd.forward_ad) is not "
                              "supported: ", why);
}

}  // namespace myops::autograd
