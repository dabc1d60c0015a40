"""Pure-PyTorch definitions of every myops operator, gathered from the family modules.

The oracle of the tests and the baseline of the benchmarks: written for clarity with
ordinary torch ops, never calling myops. Each family module (``myops/ops_<family>.py``) lists
its references in ``REFERENCES``; this module only collects them, so a new family needs no
edit here: ``myops.reference.bias_act``, ``myops.reference.upfirdn2d``, ...
"""

from ._families import family_modules

__all__ = []
for _module in family_modules():
    for _name, _reference in _module.REFERENCES.items():
        if _name in globals():
            raise ImportError(f"myops.reference: {_name} is defined by two families ({_module.__name__})")
        globals()[_name] = _reference
        __all__.append(_name)
del _module, _name, _reference
