"""`memlab twin ...`: the digital twin of a measured chip (docs/twin.md).

- ``memlab twin fit RUNS... --out chip-twin.h5``: fit the chip model to run files;
- ``memlab twin validate chip-twin.h5 RUNS... --report DIR``: replay held-out runs on the twin.

The group is one sub-command with its own sub-parsers; a module adds a sub-command to it by
appending ``(name, register)`` to :data:`TWIN_COMMANDS`, where ``register(twin_sub)`` adds its
parser and sets ``func``.
"""

from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Callable
from pathlib import Path

from memlab.arguments import check_in_path, check_out_folder, check_text
from memlab.cli import UsageError
from memlab.cmd_twin_export import add_export_parser


def _register_fit(twin_sub: argparse._SubParsersAction) -> None:
    p = twin_sub.add_parser(
        "fit", help="fit the chip model to run files: a twin file",
        description="Fit the simulated chip's parameters to run files (files and/or folders): per "
                    "device and as chip-wide distributions, each from the procedure that determines "
                    "it (readout, potentiation-depression, iv-sweep, pulsed-iv, forming, retention, "
                    "endurance, optical-pulses, relaxation). Every "
                    "fitted value carries its uncertainty and the runs it came from; parameters no "
                    "run determines keep the preset's value, and the table says so.")
    p.add_argument("paths", nargs="+", metavar="RUNS", help="run file(s) or folder(s) of run files")
    p.add_argument("--out", default="chip-twin.h5", metavar="FILE", help="twin file to write (default chip-twin.h5)")
    p.add_argument("--family", default=None, help="chip family whose preset fills the gaps (default: the runs')")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="fit chunks of files in N local processes through Dask; 1: serial (default, as "
                        "memlab analyze: one process per core from 64 files on, else serial)")
    p.add_argument("--all", dest="show_all", action="store_true", help="also list the preset parameters")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_fit)


def _register_validate(twin_sub: argparse._SubParsersAction) -> None:
    p = twin_sub.add_parser(
        "validate", help="replay held-out runs on a twin and compare figures of merit",
        description="Replay each held-out run's procedure and parameters on the twin, compare the "
                    "measured and simulated figures of merit device by device (95 % intervals) and "
                    "as distributions over devices (two-sample Kolmogorov-Smirnov), and write a "
                    "Markdown report with overlay plots into --report.")
    p.add_argument("twin", metavar="TWIN", help="twin file (memlab twin fit)")
    p.add_argument("paths", nargs="+", metavar="RUNS", help="held-out run file(s) or folder(s)")
    p.add_argument("--report", default="twin-validation", metavar="DIR",
                   help="folder for the report and the simulated runs (default twin-validation)")
    p.add_argument("--bench", default=None, help="bench file with [chip] twin = TWIN (default: the built-in "
                                                 "simulated bench with the twin on it)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulation's noise (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_validate)


#: (name, register) of every ``memlab twin`` sub-command
TWIN_COMMANDS: list[tuple[str, Callable[[argparse._SubParsersAction], None]]] = [
    ("fit", _register_fit), ("validate", _register_validate), ("export", add_export_parser)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("twin", help="digital twin of a measured chip: fit, validate, export",
                       description="The digital twin of a measured chip: fit the chip model to run "
                                   "files, validate it on held-out runs, export a device model for analog-AI simulators. A bench file puts the twin "
                                   "on the simulated bench with [chip] twin = \"chip-twin.h5\".")
    twin_sub = p.add_subparsers(dest="twin_command", metavar="TWIN_COMMAND", required=True)
    for _name, add in TWIN_COMMANDS:
        add(twin_sub)


def _fmt(value: object, unit: str = "") -> str:
    if isinstance(value, str):
        return value
    v = float(value)  # type: ignore[arg-type]
    return (f"{v:.4g}" + (f" {unit}" if unit else "")) if math.isfinite(v) else "nan"


def run_fit(args: argparse.Namespace) -> int:
    from memlab.twin import fit_twin, write_twin

    for raw in args.paths:
        check_in_path("RUNS", raw, folder_ok=True)
    out = Path(args.out)
    check_out_folder("--out", str(out.parent) if str(out.parent) else ".")
    check_text("--family", args.family)
    if args.family is not None:
        from memlab.instruments.sim.chip.presets import PRESETS
        if args.family not in PRESETS:
            raise UsageError(f"--family {args.family!r}: allowed: {', '.join(PRESETS)}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: allowed >= 1")
    twin = fit_twin(args.paths, family=args.family, progress=False if args.no_progress else None,
                    workers=args.workers)
    write_twin(twin, out)
    measured = {name: int(d.measured.sum()) for name, d in twin.devices.items()}
    print(f"{len(twin.sources)} runs, {twin.family} chip {twin.rows} x {twin.cols}; devices fitted per "
          f"parameter: " + ", ".join(f"{k} {v}" for k, v in measured.items() if v))
    print("| parameter | value | 95 % interval | n | status | runs |")
    print("|---|---|---|---|---|---|")
    for name, e in sorted(twin.chip.items(), key=lambda kv: (kv[1].status != "fitted", kv[0])):
        if e.status != "fitted" and not args.show_all:
            continue
        interval = "" if isinstance(e.value, str) or not math.isfinite(e.low) else \
            f"[{_fmt(e.low)}, {_fmt(e.high)}]"
        print(f"| {name} | {_fmt(e.value, e.unit)} | {interval} | {e.n} | {e.status} | {len(e.sources)} |")
    preset = twin.not_fitted()
    print(f"{len(preset)} parameters not determined by any run keep the preset's value"
          + (": " + ", ".join(preset) if args.show_all or len(preset) <= 12 else " (--all lists them)"))
    if args.show_all:  # why each keeps the preset
        for name in preset:
            print(f"preset: {name}: {twin.chip[name].reason}")
    for note in twin.notes:
        print(f"note: {note}")
    print(f"twin: {out}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from memlab.twin import validate_twin

    check_in_path("TWIN", args.twin)
    for raw in args.paths:
        check_in_path("RUNS", raw, folder_ok=True)
    check_out_folder("--report", args.report)
    if args.bench is not None:
        check_in_path("--bench", args.bench)
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: allowed >= 0")
    run_log = logging.getLogger("memlab.run")  # each replay's log lines: noise here
    level = run_log.level
    run_log.setLevel(max(level, logging.WARNING))
    try:
        result = validate_twin(args.twin, args.paths, args.report, bench=args.bench, seed=args.seed,
                               progress=False if args.no_progress else None)
    finally:
        run_log.setLevel(level)
    if not result.replayed:
        raise UsageError(f"no held-out run could be replayed ({len(result.skipped)} skipped; see {result.report})")
    print(f"{len(result.replayed)} runs replayed; {result.figures_tested} figures tested, "
          f"{result.figures_rejected} rejected at 5 % (two-sample Kolmogorov-Smirnov)")
    print(f"report: {result.report}")
    return 0
