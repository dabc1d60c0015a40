"""The myops command line:  python -m myops info | demo"""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m myops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="what was built (torch version, CUDA archs, CPU ISA) and every op's schema and dispatch keys")
    demo = sub.add_parser("demo", help="run every op against its reference and time it against eager PyTorch and torch.compile")
    demo.add_argument("--no-compile", action="store_true", help="skip the torch.compile column (it compiles C++ for each graph)")
    args = parser.parse_args(argv)

    if args.command == "info":
        from ._cli import print_info

        print_info()
    else:
        from ._cli import run_demo

        run_demo(compile_reference=not args.no_compile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
