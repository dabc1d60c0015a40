"""Every typed wrapper of the myops operators in one namespace (kept for code written against
``myops.functional``; the wrappers live in the family modules, ``myops/ops_<family>.py``)."""

from ._families import family_modules

__all__ = []
for _module in family_modules():
    for _name in _module.__all__:
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
del _module, _name
