"""`memlab import FILE... --procedure P --out DIR`: other tools' measurements as memlab run files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from memlab.procedures.importers import (
    FORMATS,
    TARGETS,
    ImportOptions,
    import_file,
    parse_pairs,
    read_mapping_file,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="turn other tools' data (CSV/TSV, Keithley, Keysight, ArC ONE) into run files",
        description="Import measurements made with other software into memlab run files, one per "
                    "device, with the source file, tool and column mapping recorded. "
                    "See docs/importing.md.")
    p.add_argument("files", nargs="+", help="files to import")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="source format (default: delimited, or the mapping file's)")
    p.add_argument("--procedure", choices=sorted(TARGETS), default=None,
                   help="which procedure the data is (default: the mapping file's)")
    p.add_argument("--map", action="append", default=[], metavar="QUANTITY=COLUMN",
                   help="a column by header name or 1-based position, e.g. voltage=V1, current=3")
    p.add_argument("--unit", action="append", default=[], metavar="QUANTITY=UNIT",
                   help="a column's unit when the header does not say it, e.g. current=mA")
    p.add_argument("--mapping", type=Path, help="a TOML mapping file (columns, units, options)")
    p.add_argument("--delimiter", help="field delimiter (default: detected); 'tab' for TSV")
    p.add_argument("--no-header", action="store_true", help="the file has no header line")
    p.add_argument("--series-resistor-ohm", type=float,
                   help="current = resistor_voltage / this resistance (oscilloscope captures)")
    p.add_argument("--read-v", type=float, help="read voltage, to turn a read current into conductance")
    p.add_argument("--device", default=None, metavar="ROW,COL", help="the device measured (default 0,0)")
    p.add_argument("--operator", default="", help="who made the measurement")
    p.add_argument("--out", type=Path, required=True, help="folder for the run files")
    p.set_defaults(func=run)


def _device(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
        from memlab.cli import UsageError
        raise UsageError(f"--device {text!r}: write ROW,COL with whole numbers >= 0, e.g. 2,5")
    return int(parts[0]), int(parts[1])


def run(args: argparse.Namespace) -> int:
    from memlab.cli import UsageError
    config = read_mapping_file(args.mapping) if args.mapping else {}
    procedure = args.procedure or config.get("procedure")
    if procedure is None:
        raise UsageError(f"--procedure is required (one of {sorted(TARGETS)}) unless the mapping file names it")
    fmt = args.format or config.get("format", "delimited")
    delimiter = args.delimiter if args.delimiter is not None else config.get("delimiter")
    if delimiter == "tab":
        delimiter = "\t"
    device = _device(args.device) or tuple(config.get("device", (0, 0)))
    columns = {**config.get("columns", {}), **parse_pairs(args.map, "--map")}
    units = {**config.get("units", {}), **parse_pairs(args.unit, "--unit")}
    header = False if args.no_header else config.get("header")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a folder")
    written: list[Path] = []
    for name in tqdm(args.files, desc="import", unit="file", file=sys.stderr,
                     disable=len(args.files) < 2 or args.quiet, leave=False):
        options = ImportOptions(
            procedure=procedure, mapping=dict(columns), units=dict(units), delimiter=delimiter,
            header=header, device=device,  # type: ignore[arg-type]
            read_v=args.read_v if args.read_v is not None else config.get("read_v"),
            series_resistor_ohm=(args.series_resistor_ohm if args.series_resistor_ohm is not None
                                 else config.get("series_resistor_ohm")),
            operator=args.operator)
        written.extend(import_file(name, args.out, fmt=fmt, options=options))
    for path in written:
        print(path)
    print(f"{len(written)} run file(s) in {args.out}", file=sys.stderr)
    return 0
