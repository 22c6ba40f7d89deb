"""`memlab`: the command-line entry point.

Exit status: 0 on success, 1 when a run failed or was aborted, 2 for bad input (a one-line
message; the traceback only with --debug).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from collections.abc import Sequence

# Each module defines register(subparsers), which adds its sub-command and sets func=run.
COMMAND_MODULES = (
    "memlab.cmd_procedures",
    "memlab.cmd_run",
    "memlab.cmd_info",
    "memlab.cmd_demo",
    "memlab.cmd_campaign",
    "memlab.cmd_bench",
    "memlab.cmd_analyze",
    "memlab.cmd_gui",
    "memlab.cmd_import",
)


from memlab.errors import MemlabError


class UsageError(MemlabError):
    """Bad input found by a command itself; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memlab",
        description="Drive a memristor test bench (real or simulated), record runs to HDF5 "
                    "and analyse them.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _bad_input_types() -> tuple[type[BaseException], ...]:
    from memlab.procedures import ParameterError
    from memlab.procedures.plan import PlanError
    from memlab.storage import RunFileError
    from memlab.procedures.importers import ImportFileError
    types: list[type[BaseException]] = [UsageError, ParameterError, PlanError, RunFileError,
                                        ImportFileError, FileNotFoundError]
    try:
        from memlab.instruments.bench_file import BenchFileError
        from memlab.instruments.limits import LimitError
        from memlab.instruments.wiring import WiringError
        types += [BenchFileError, LimitError, WiringError]
    except ImportError:
        pass
    return tuple(types)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.debug:  # pymeasure announces every connection at INFO; that is noise on a terminal
        logging.getLogger("pymeasure").setLevel(logging.WARNING)
        if getattr(args, "progress_bar", False):  # long jobs: a progress bar, and details in their log file
            for handler in logging.getLogger().handlers:
                handler.setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except _bad_input_types() as exc:
        if args.debug:
            raise
        print(f"memlab {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except MemlabError as exc:  # an instrument that cannot be reached, a device fault: the run could not be done
        if args.debug:
            raise
        print(f"memlab {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # more Ctrl-C presses: the work is already stopped
        print(f"memlab {args.command}: {exc or 'interrupted'}; outputs were switched off", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
