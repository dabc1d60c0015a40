"""TorchScript: a function calling torch.ops.myops.* is scripted, saved, then loaded and run
in a fresh process that only calls torch.ops.load_library (no `import myops`)."""

import subprocess
import sys
import textwrap

import torch

import myops


def uses_every_op(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(a)
    torch.ops.myops.add_out(a, b, out)
    return torch.ops.myops.muladd(out, b, 0.5) + torch.ops.myops.mul(a, b) - torch.ops.myops.add(a, b)


def reference(a, b):
    return (a + b) * b + 0.5 + a * b - (a + b)


def test_script_runs_in_process():
    scripted = torch.jit.script(uses_every_op)
    a, b = torch.randn(4, 5), torch.randn(5)
    torch.testing.assert_close(scripted(a, b), reference(a, b))
    assert "myops::muladd" in str(scripted.graph)


def test_script_save_load_in_fresh_process(tmp_path):
    path = tmp_path / "uses_myops.pt"
    torch.jit.script(uses_every_op).save(str(path))
    program = textwrap.dedent(f"""
        import sys, torch
        torch.ops.load_library({str(myops.library_path())!r})
        fn = torch.jit.load({str(path)!r})
        a, b = torch.randn(4, 5), torch.randn(5)
        torch.testing.assert_close(fn(a, b), (a + b) * b + 0.5 + a * b - (a + b))
        assert "myops" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
