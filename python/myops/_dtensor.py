"""DTensor sharding rules of every op (torch.distributed.tensor.experimental.register_sharding).

DTensor keeps its sharding propagation in Python (no C++ registration exists), so the rules are
registered by this package, and only when DTensor is used: ``import myops`` does not import
torch.distributed.tensor (seconds of import time); if it is already imported the rules are
registered at once, otherwise right after it gets imported (an import hook). A C++ host has no
DTensor, so it needs none of this. ``register_sharding_rules()`` may also be called directly.

The rules, per mesh dimension (DTensor expands them to every mesh dimension, and picks the
placement that needs no redistribution):
- muladd, mul, add, add_out: pointwise with broadcasting: the result sharded along any dim,
  each input along the matching dim (replicated where it broadcasts);
- bias_act, bias_act_backward: pointwise in x (and grad); sharded along x's `dim` (the
  channels) only with b sharded the same way, along any other dim with b replicated;
- upfirdn2d: x [N, C, H, W] sharded along N or C, the filter replicated; upfirdn2d_stacked
  (x [S, N, C, H, W], f [S, ...]) also along S, with f sharded alike;
- filtered_lrelu(_backward): along N (b replicated) or C (b sharded alike), filters replicated;
- lltm and its backward ops: along the batch (rows), weights and bias replicated;
  lltm_backward's weight and bias gradients are then Partial (a sum over ranks, as for a
  matrix product).
Everything may also be replicated. Every rule is one local op call: no collective.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings

import torch

_DTENSOR_MODULE = "torch.distributed.tensor"
_registered = False


def register_sharding_rules() -> None:
    """Registers the sharding rules of every myops op with DTensor (idempotent)."""
    global _registered
    if _registered:
        return
    from torch.distributed.tensor import Partial, Replicate, Shard
    from torch.distributed.tensor.experimental import register_sharding

    ops = torch.ops.myops
    R = Replicate()

    def along(t, d, out_shape):
        """Placement of input `t` when the broadcast result is sharded along dim d."""
        td = d - (len(out_shape) - t.ndim)
        if td < 0 or (t.shape[td] == 1 and out_shape[d] != 1):
            return R  # t broadcasts along d: every shard needs all of it
        return Shard(td)

    def pointwise(a, b):
        out_shape = torch.broadcast_shapes(a.shape, b.shape)
        rules = [[R, R, R]]
        rules += [[Shard(d), along(a, d, out_shape), along(b, d, out_shape)] for d in range(len(out_shape))]
        return rules

    # Each function takes the op's arguments (the tensors as DTensorSpecs, with .shape/.ndim)
    # under the schema's names and defaults, and returns (output placements, placements of the
    # tensor arguments in schema order, None for an absent optional tensor).
    @register_sharding([ops.mul.default, ops.add.default])
    def _binary(a, b):
        return [(rule[:1], rule[1:]) for rule in pointwise(a, b)]

    @register_sharding(ops.muladd.default)
    def _muladd(a, b, c):
        return _binary(a, b)

    @register_sharding(ops.add_out.default)
    def _add_out(a, b, out):
        # No return value: every placement is an input's; out keeps its own.
        return [([], rule[1:] + rule[:1]) for rule in pointwise(a, b)]

    def bias_act_rules(x, b, dim, leading):
        """`leading`: how many inputs are shaped like x (x; grad and x), then b."""
        ndim = x.ndim
        rules = [[R] * (1 + leading) + [None if b is None else R]]
        channel = dim % ndim if b is not None and ndim > 0 else None
        for d in range(ndim):
            b_place = None if b is None else (Shard(0) if d == channel else R)
            rules.append([Shard(d)] * (1 + leading) + [b_place])
        return [(rule[:1], rule[1:]) for rule in rules]

    @register_sharding(ops.bias_act.default)
    def _bias_act(x, b=None, dim=1, act="linear", alpha=None, gain=None, clamp=None):
        return bias_act_rules(x, b, dim, 1)

    @register_sharding(ops.bias_act_backward.default)
    def _bias_act_backward(grad, x, b, dim, act, alpha, gain, clamp, order=1):
        return bias_act_rules(x, b, dim, 2)

    def opt(t, placement):
        return None if t is None else placement

    @register_sharding(ops.upfirdn2d.default)
    def _upfirdn2d(x, f=None, up=(1, 1), down=(1, 1), padding=(0, 0, 0, 0), flip_filter=False, gain=1.0):
        return [([p], [p, opt(f, R)]) for p in (R, Shard(0), Shard(1))]

    @register_sharding(ops.upfirdn2d_stacked.default)
    def _upfirdn2d_stacked(x, f, up=(1, 1), down=(1, 1), padding=(0, 0, 0, 0), flip_filter=False, gain=1.0):
        # Along the stack S (each filter goes with its x[s]), or N or C (the filters replicated).
        return [([R], [R, R]), ([Shard(0)], [Shard(0), Shard(0)]), ([Shard(1)], [Shard(1), R]),
                ([Shard(2)], [Shard(2), R])]

    def filtered_lrelu_rules(xs, fu, fd, b):
        """`xs`: how many inputs are [N, C, H, W] images (x; grad and x), then fu, fd, b."""
        replicated = ([R], [R] * xs + [opt(fu, R), opt(fd, R), opt(b, R)])
        by_images = ([Shard(0)], [Shard(0)] * xs + [opt(fu, R), opt(fd, R), opt(b, R)])
        by_channels = ([Shard(1)], [Shard(1)] * xs + [opt(fu, R), opt(fd, R), opt(b, Shard(0))])
        return [replicated, by_images, by_channels]

    @register_sharding(ops.filtered_lrelu.default)
    def _filtered_lrelu(x, fu=None, fd=None, b=None, up=1, down=1, padding=(0, 0, 0, 0), gain=2 ** 0.5,
                        slope=0.2, clamp=None, flip_filter=False):
        return filtered_lrelu_rules(1, fu, fd, b)

    @register_sharding(ops.filtered_lrelu_backward.default)
    def _filtered_lrelu_backward(grad, x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter):
        return filtered_lrelu_rules(2, fu, fd, b)

    def rows(outputs, inputs, shared=(), partial=()):
        """Sharded along the rows (dim 0), except the inputs at `shared` (replicated) and the
        outputs at `partial` (sums over the rows: Partial)."""
        by_rows = ([Partial() if i in partial else Shard(0) for i in range(outputs)],
                   [R if i in shared else Shard(0) for i in range(inputs)])
        return [([R] * outputs, [R] * inputs), by_rows]

    @register_sharding(ops.lltm.default)
    def _lltm(input, weights, bias, old_h, old_cell):
        return rows(2, 5, shared=(1, 2))

    @register_sharding(ops.lltm_forward.default)
    def _lltm_forward(input, weights, bias, old_h, old_cell):
        return rows(4, 5, shared=(1, 2))

    @register_sharding(ops.lltm_backward.default)
    def _lltm_backward(grad_h, grad_cell, new_cell, gates, X, weights):
        return rows(5, 6, shared=(5,), partial=(1, 2))

    @register_sharding(ops.lltm_gates_backward.default)
    def _lltm_gates_backward(grad_h, grad_cell, new_cell, gates):
        return rows(2, 4)

    @register_sharding(ops.lltm_cell.default)
    def _lltm_cell(pre_gates, old_cell):
        return rows(2, 2)

    @register_sharding(ops.lltm_cell_backward.default)
    def _lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell):
        return rows(2, 4)

    @register_sharding(ops.lltm_cell_double_backward.default)
    def _lltm_cell_double_backward(gg_gates, gg_old_cell, grad_h, grad_cell, pre_gates, old_cell):
        return rows(4, 6)

    _registered = True


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds torch.distributed.tensor once, with the finders after it, and makes its loader
    register the rules right after the module has run."""

    def find_spec(self, name, path, target=None):
        if name != _DTENSOR_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            try:
                register_sharding_rules()
            except Exception as e:  # never break the user's import of DTensor
                warnings.warn(f"myops: could not register the DTensor sharding rules: {e!r}", stacklevel=2)

        spec.loader.exec_module = exec_and_register
        return spec


def install() -> None:
    """Registers the rules now if DTensor is imported, else once it is; nothing without
    torch.distributed."""
    if not torch.distributed.is_available():
        return
    if _DTENSOR_MODULE in sys.modules:
        register_sharding_rules()
    elif not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
