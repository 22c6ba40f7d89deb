"""`memlab demo`: the main job on the built-in simulated bench."""

from __future__ import annotations

import argparse
from pathlib import Path

from memlab.progress import ProgressBar
from procedures import get_procedure, run_procedure


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demonstration on the built-in simulated bench",
                       description="Run the demonstration job on the built-in simulated bench "
                                   "and print where its run files are.")
    p.add_argument("--out", default="runs", help="folder for the run files (default: runs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from instruments.bench import load_bench

    out = Path(args.out)
    procedure = get_procedure("clock-check")(samples=100_000, interval_s=0.001)
    with load_bench(None) as bench:
        result = run_procedure(procedure, bench, out, listeners=[ProgressBar("clock-check")])
    print(f"{result.status}: {result.path}")
    print(f"run files are in {out.resolve()}")
    return 0 if result.ok else 1
