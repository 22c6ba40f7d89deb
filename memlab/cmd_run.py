"""`memlab run NAME --set key=value ...`: run one procedure and print its run file."""

from __future__ import annotations

import argparse
from pathlib import Path

from memlab.arguments import check_in_path, check_out_folder, check_settings, check_text
from memlab.cli import UsageError
from memlab.progress import ProgressBar
from memlab.procedures import get_procedure, run_procedure


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run one procedure on the bench",
                       description="Run one procedure and write its run file. Parameters are "
                                   "checked before any instrument is touched; see "
                                   "`memlab procedures NAME` for each one's range.")
    p.add_argument("name", help="procedure name (see `memlab procedures`)")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter value; repeat for several")
    p.add_argument("--bench", help="bench file (TOML); default: the built-in simulated bench")
    p.add_argument("--family", choices=("prgo", "optomemristor"),
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
        result = run_procedure(procedure, bench, Path(args.out), operator=args.operator,
                               listeners=[ProgressBar(args.name)])
    print(f"{result.status}: {result.path}" + (f" ({result.error})" if result.error else ""))
    return 0 if result.ok else 1
