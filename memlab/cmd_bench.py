"""`memlab bench check [FILE]`: open every instrument of a bench and say who answered.

For each role it prints the model, the identity the instrument reports, its address, whether it
is simulated or real, and "connected" or the error. Exit status 0 when every instrument answered,
1 when one did not, 2 for a bad bench file (one line naming the file, the key and what is
expected).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench", help="inspect a bench file and its instruments",
        description="Inspect a bench (instruments, chip, wiring) given by a TOML bench file.")
    actions = parser.add_subparsers(dest="bench_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="connect every instrument and print its identity, real or simulated",
        description="Connect every instrument of the bench and print its role, model, identity, "
                    "address, whether it is simulated, and whether it answered.")
    check.add_argument("file", nargs="?", default=None,
                       help="bench file (TOML); without it, the built-in simulated bench")
    check.add_argument("--family", choices=_chip_families(), default=None,
                       help="override the chip family of the bench")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.instruments.bench import BenchFileError, Bench, read_bench_config

    try:
        config = read_bench_config(args.file, family=getattr(args, "family", None))
    except BenchFileError as exc:
        print(f"memlab bench: error: {exc}", file=sys.stderr)
        return 2
    bench = Bench(config, strict=False)
    rows: list[tuple[str, ...]] = []
    failures = 0
    try:
        for role, instrument in config.instruments.items():
            kind = "simulated" if instrument.simulated else "real"
            driver = bench.instruments().get(role)
            if driver is None:
                failures += 1
                rows.append((role, instrument.driver, "-", instrument.address, kind,
                             f"not opened: {bench.errors.get(role, 'unknown error')}"))
                continue
            try:
                identity = driver.identity()
                status = "connected"
            except Exception as exc:  # noqa: BLE001 - report every instrument, then the status
                failures += 1
                identity = "-"
                status = f"no answer: {exc}"
            rows.append((role, str(getattr(driver, "model", instrument.driver)), identity,
                         instrument.address, kind, status))
    finally:
        bench.close()
    chip = bench.chip_info()
    print(f"bench: {config.name} ({config.file})")
    print(f"chip: {chip['family']} {chip['rows']} x {chip['cols']} {chip['array']}, seed {chip['seed']}"
          f" ({'simulated' if chip['simulated'] else 'real'})")
    header = ("role", "model", "identity", "address", "kind", "status")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    if not rows:
        print("(the bench has no instruments)")
    return 1 if failures else 0


def _chip_families() -> tuple[str, ...]:
    from memlab.instruments.bench_file import chip_families  # the preset registry: one entry per family

    return chip_families()
