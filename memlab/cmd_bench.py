"""`memlab bench check|scan|selftest`: inspect a bench and bring up its hardware.

- ``check [FILE]``: open every instrument of a bench and say who answered (model, identity,
  address, simulated or real, "connected" or the error).
- ``scan [--backend LIB ...] [--write FILE]``: list the VISA resources each VISA library sees
  (pyvisa-py ``@py`` and the system VISA ``@ivi`` by default; ``@memsim`` for the simulated bench)
  with their ``*IDN?``, match them to memlab's drivers and write a starting bench file.
- ``selftest [--bench FILE] [--resistor OHM --device ROW,COL]``: check each instrument safely
  (identity, error queue empty, outputs off and verified, limits accepted) and measure a known
  resistor through the wiring.

Exit status 0 when everything answered and passed, 1 when something did not, 2 for bad input (one
line naming the file, option or key and what is expected).
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
    check.set_defaults(func=run)
    scan = actions.add_parser(
        "scan", help="list the VISA instruments on the buses and write a starting bench file",
        description="Ask every VISA resource for *IDN?, match it to memlab's drivers and write a "
                    "starting bench file.")
    scan.add_argument("--backend", action="append", default=None, metavar="LIB",
                      help="VISA library to scan: @py (pyvisa-py), @ivi (system VISA), @memsim "
                           "(simulated bench), BENCH.toml@memsim; repeat for several "
                           "(default: @py and @ivi, each where installed)")
    scan.add_argument("--timeout-ms", type=int, default=1000, help="per-instrument reply timeout (default 1000)")
    scan.add_argument("--write", metavar="FILE", default=None, help="write the starting bench file here")
    scan.add_argument("--force", action="store_true", help="replace an existing --write file")
    scan.set_defaults(func=run_scan)
    selftest = actions.add_parser(
        "selftest", help="check each instrument of a bench safely; optionally measure a known resistor",
        description="Identity, empty error queue, outputs off (verified) and limits accepted for each "
                    "instrument; with --resistor and --device, measure the resistor through the wiring.")
    selftest.add_argument("--bench", default=None, help="bench file (default: the built-in simulated bench)")
    selftest.add_argument("--resistor", type=float, default=None, metavar="OHM",
                          help="a known resistor on the chip socket, in ohm")
    selftest.add_argument("--device", default=None, metavar="ROW,COL", help="where the resistor sits")
    selftest.add_argument("--tolerance", type=float, default=0.1,
                          help="allowed relative deviation of the measured resistance (default 0.1)")
    selftest.add_argument("--test-voltage", type=float, default=0.05, metavar="V",
                          help="voltage the resistor is read at (default 0.05)")
    selftest.set_defaults(func=run_selftest)


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


def run_scan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from memlab.instruments.bringup import DEFAULT_BACKENDS, bench_toml, scan, write_new_file

    if args.timeout_ms <= 0:
        print(f"memlab bench scan: error: --timeout-ms {args.timeout_ms}: expected a positive integer",
              file=sys.stderr)
        return 2
    backends = args.backend or list(DEFAULT_BACKENDS)
    result = scan(backends, timeout_ms=args.timeout_ms)
    for backend, why in result.unavailable.items():
        print(f"{backend}: not scanned ({why})")
    if not result.found:
        print("no VISA instruments found")
    for found in result.found:
        matched = f"{found.driver} as {found.role}" if found.driver else "no memlab driver"
        answer = found.identity if found.identity else found.error
        print(f"{found.backend}  {found.resource}  {answer}  [{matched}]")
    if args.write:
        simulated = all("memsim" in b for b in backends)
        try:
            write_new_file(Path(args.write), bench_toml(result, simulated=simulated), force=args.force)
        except (FileExistsError, NotADirectoryError, PermissionError, IsADirectoryError) as exc:
            print(f"memlab bench scan: error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {args.write}")
    return 0 if result.found else 1


def run_selftest(args: argparse.Namespace) -> int:
    from memlab.instruments.bench import BenchFileError
    from memlab.instruments.bringup import format_checks, parse_device, selftest

    try:
        device = parse_device(args.device) if args.device is not None else None
        checks = selftest(args.bench, resistor_ohm=args.resistor, device=device,
                          tolerance=args.tolerance, test_voltage_v=args.test_voltage)
    except (ValueError, BenchFileError) as exc:
        print(f"memlab bench selftest: error: {exc}", file=sys.stderr)
        return 2
    for line in format_checks(checks):
        print(line)
    failed = sum(not c.ok for c in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def _chip_families() -> tuple[str, ...]:
    from memlab.instruments.bench_file import chip_families  # the preset registry: one entry per family

    return chip_families()
