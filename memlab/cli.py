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
import typing
from collections.abc import Sequence

from memlab.arguments import UsageError, printable  # UsageError: re-exported for the commands
from memlab.errors import MemlabError

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
    "memlab.cmd_twin",
)


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (and where to find the usage) instead of a usage block;
    sub-command parsers inherit it."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {printable(' '.join(message.split()))} "
                     f"(see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    from memlab.twin.file import TwinFileError
    types: list[type[BaseException]] = [UsageError, ParameterError, PlanError, RunFileError,
                                        ImportFileError, TwinFileError, FileNotFoundError]
    try:
        from memlab.instruments.bench_file import BenchFileError
        from memlab.instruments.limits import LimitError
        from memlab.instruments.wiring import WiringError
        types += [BenchFileError, LimitError, WiringError]
    except ImportError:
        pass
    return tuple(types)


def _connection_error_types() -> tuple[type[BaseException], ...]:
    try:
        from memlab.instruments.bench_file import BenchConnectionError
        from memlab.instruments.plumbing import InstrumentConnectionError
    except ImportError:
        return ()
    return (BenchConnectionError, InstrumentConnectionError)


def _say(command: str, kind: str, exc: BaseException | str) -> None:
    """One line on stderr, whatever bytes the message holds (argv may carry undecodable ones)."""
    text = " ".join(str(exc).split()) if not isinstance(exc, str) else exc
    print(f"memlab {command}: {kind}: {printable(text)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the error (or the help)
        return exc.code if isinstance(exc.code, int) else 2
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
    except _connection_error_types() as exc:  # a lab fault, not bad input: the run did not happen
        if args.debug:
            raise
        _say(args.command, "error", exc)
        return 1
    except _bad_input_types() as exc:
        if args.debug:
            raise
        _say(args.command, "error", exc)
        return 2
    except MemlabError as exc:  # an instrument that cannot be reached, a device fault: the run could not be done
        if args.debug:
            raise
        _say(args.command, "error", exc)
        return 1
    except KeyboardInterrupt as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # more Ctrl-C presses: the work is already stopped
        print(f"memlab {args.command}: {exc or 'interrupted'}; outputs were switched off", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, but never a bare traceback
        if args.debug:
            raise
        logging.getLogger("memlab").debug("internal error", exc_info=True)
        _say(args.command, "internal error", f"{type(exc).__name__}: {exc} "
                                              "(a bug in memlab; run with --debug for the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
