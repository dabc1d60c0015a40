"""One Inductor cache per CPU ISA, for the benchmarks that compile with torch.compile and may run
with ATEN_CPU_CAPABILITY set. Inductor's on-disk caches do not key on ATEN_CPU_CAPABILITY
(torch 2.11): an AVX2 run served AVX-512 code compiled by an earlier run crashed (SIGSEGV / a
general protection fault in the compiled kernel). Imports nothing from torch: it must act
before torch is imported."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir(isa: str) -> str:
    """The Inductor cache directory for runs with ATEN_CPU_CAPABILITY=isa."""
    return str(Path(tempfile.gettempdir()) / f"myops-inductor-{isa}")


def use_per_isa_cache() -> None:
    """In this process, before torch is imported: when ATEN_CPU_CAPABILITY is set and no cache
    directory was chosen, use that ISA's own."""
    isa = os.environ.get("ATEN_CPU_CAPABILITY")
    if isa and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache_dir(isa)
