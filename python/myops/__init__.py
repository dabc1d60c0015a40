"""myops: PyTorch custom operators in C++ (CPU + CUDA), registered with TORCH_LIBRARY.

``import myops`` loads libmyops.so once; from then on the ops are ordinary dispatcher ops,
``torch.ops.myops.<name>``, usable in eager mode, TorchScript, torch.compile and torch.export.
The functions here are typed, documented wrappers around them, one module per op family
(``myops/ops_<family>.py``); ``myops.reference`` holds the pure-PyTorch definition of every op.
"""

from . import _library

_library.load()

# One line per op family: its wrappers (the module's __all__).
from .ops_bias_act import *  # noqa: E402,F401,F403
from .ops_elementwise import *  # noqa: E402,F401,F403
from .ops_filtered_lrelu import *  # noqa: E402,F401,F403
from .ops_lltm import *  # noqa: E402,F401,F403
from .ops_upfirdn2d import *  # noqa: E402,F401,F403

from . import reference  # noqa: E402
from . import _dtensor  # noqa: E402

# DTensor sharding rules (Python-only in PyTorch): registered when torch.distributed.tensor is
# (or gets) imported, never importing it here (myops/_dtensor.py).
_dtensor.install()
from ._families import family_modules as _family_modules  # noqa: E402
from ._library import build_info, library_path  # noqa: E402

__version__ = build_info().get("myops_version", "0+unknown")

# Every family's wrappers (a family file without its import line above fails tests/test_package.py).
__all__ = [name for module in _family_modules() for name in module.__all__] + ["reference", "build_info", "library_path"]
