"""myops: PyTorch custom operators in C++ (CPU + CUDA), registered with TORCH_LIBRARY.

``import myops`` loads libmyops.so once; from then on the ops are ordinary dispatcher ops,
``torch.ops.myops.<name>``, usable in eager mode, TorchScript, torch.compile and torch.export.
The functions here are typed, documented wrappers around them; ``myops.reference`` holds the
pure-PyTorch definition of every op.
"""

from . import _library

_library.load()

from . import reference  # noqa: E402
from ._library import build_info, library_path  # noqa: E402
from .functional import (  # noqa: E402
    add, add_out, bias_act, downsample2d, filter2d, lltm, mul, muladd, setup_filter, upfirdn2d, upsample2d)

__version__ = build_info().get("myops_version", "0+unknown")

__all__ = ["add", "add_out", "mul", "muladd", "bias_act", "upfirdn2d", "setup_filter", "upsample2d", "downsample2d",
           "filter2d", "lltm", "reference", "build_info", "library_path"]
