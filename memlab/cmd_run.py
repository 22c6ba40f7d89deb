"""`memlab run NAME --set key=value ...`: run one procedure and print its run file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from memlab.arguments import check_in_path, check_out_folder, check_settings, check_text
from memlab.cli import UsageError
from memlab.progress import ProgressBar
from memlab.procedures import get_procedure, run_procedure
from memlab.storage import RunWriteError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one procedure on the bench",
                       description="Run one procedure and write its run file. Parameters are "
                                   "checked before any instrument is touched; see "
                                   "`memlab procedures NAME` for each one's range.")
    p.add_argument("name", help="procedure name (see `memlab procedures`)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter value; repeat for several")
    p.add_argument("--bench", help="bench file (TOML); default: the built-in simulated bench")
    p.add_argument("--family", choices=_chip_families(),
                   help="put a chip of this family on the bench instead of the file's")
    p.add_argument("--out", default="runs", help="folder for the run file (default: runs)")
    p.add_argument("--operator", help="who ran it (default: the login name)")
    p.set_defaults(func=run)


def parse_settings(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE")
        if key.strip() in values:
            raise UsageError(f"--set {key.strip()}: given twice; give each parameter once")
        values[key.strip()] = value.strip()
    return values


def run(args: argparse.Namespace) -> int:
    from memlab.instruments.bench import load_bench

    cls = get_procedure(args.name)
    procedure = cls(**check_settings(cls, parse_settings(args.settings)))
    check_out_folder("--out", args.out)
    check_text("--operator", args.operator)
    if args.bench is not None:
        check_in_path("--bench", args.bench)
    with load_bench(args.bench, family=args.family) as bench:
        try:
            result = run_procedure(procedure, bench, Path(args.out), operator=args.operator,
                                   listeners=[ProgressBar(args.name)])
        except RunWriteError as exc:  # the run file could not even be created: nothing ran
            print(f"memlab run: failed: {exc}", file=sys.stderr)
            return 1
    print(f"{result.status}: {result.path}" + (f" ({result.error})" if result.error else ""))
    report_safety_failures("run", result.safety_failures)
    return 0 if result.ok else 1


def report_safety_failures(command: str, failures: list[str]) -> None:
    """Outputs not verified off: said last and loudly, on stderr, one line each."""
    for failure in failures:
        print(f"memlab {command}: {failure}", file=sys.stderr)


def _chip_families() -> tuple[str, ...]:
    from memlab.instruments.bench_file import chip_families  # the preset registry: one entry per family

    return chip_families()
