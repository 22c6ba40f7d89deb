"""`memlab analyze PATH... [--report DIR]`: figures of merit of run files, as tables, plots and HTML."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from memlab.arguments import check_in_path, check_out_folder, check_text
from memlab.cli import UsageError
from memlab.storage import RunFileError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="figures of merit of run files: per-device tables, plots, an HTML report",
        description="Compute the figures of merit of run files (a file, several, or folders such as "
                    "a campaign) and print the per-device table; with --report DIR also write it as "
                    "CSV and Markdown, the standard plots as PNG and an index.html linking them. "
                    "Corrupted, interrupted and unfinished files in a folder are skipped with a "
                    "warning naming each. Large folders run in parallel through Dask.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="run file(s) or folder(s) of run files")
    p.add_argument("--report", metavar="DIR", help="write the report into this folder")
    p.add_argument("--procedure", action="append", metavar="NAME",
                   help="only runs of this procedure (repeatable)")
    p.add_argument("--device", action="append", metavar="ROW,COL",
                   help="only runs that used this device (repeatable)")
    p.add_argument("--status", action="append", metavar="STATUS",
                   help="only runs that ended so: completed, aborted or failed (repeatable)")
    p.add_argument("--since", metavar="TIME", help="only runs started at or after this ISO time (UTC)")
    p.add_argument("--until", metavar="TIME", help="only runs started at or before this ISO time (UTC)")
    p.add_argument("--scheduler", default=None, metavar="WHERE",
                   help="processes (local Dask processes), serial, or a dask.distributed scheduler "
                        "address such as tcp://host:8786 (default: processes for 64 files or "
                        "more, else serial)")
    p.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: CPU count)")
    p.add_argument("--plots-per-procedure", type=int, default=2, metavar="N",
                   help="runs of each procedure drawn in the report (default 2)")
    p.add_argument("--title", default=None, help="report title (default: from the first PATH)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _check_explicit_files(paths: list[str]) -> None:
    """A file named on the command line must be analysable: say why not, before any work."""
    from memlab.analysis.loading import open_run, skip_reason

    for raw in paths:
        check_text("PATH", raw, max_chars=4096)
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        if path.is_file():
            reason = skip_reason(open_run(path))  # RunFileError: not memlab, damaged
            if reason is not None:
                raise RunFileError(f"{path}: {reason}")


def repair_interrupted(paths: list[str]) -> int:
    """Clear the flags a dead writer left in any of these run files, so that every HDF5 reader
    opens them (the analysis itself only reads). Reading the superblock costs one small read per
    file; the reader judges whether the writer is gone before touching anything."""
    from memlab.analysis.loading import find_run_files
    from memlab.storage import RunReader
    from memlab.storage.recovery import writer_flags

    repaired = 0
    for path in find_run_files(paths):
        try:
            if not writer_flags(path):
                continue
            RunReader(path, repair=True).close()
            repaired += not writer_flags(path)
        except (OSError, ValueError):  # damaged or unreadable: the analysis skips it, naming why
            continue
    return repaired


def run(args: argparse.Namespace) -> int:
    from memlab.analysis.parallel import summarize
    from memlab.analysis.report import markdown_table, write_report

    if args.report is not None:
        check_out_folder("--report", args.report)
    check_text("--title", args.title, max_chars=500)
    for name in ("procedure", "device", "status"):
        for value in getattr(args, name) or ():
            check_text(f"--{name}", value)
    for raw in args.paths:
        check_in_path("PATH", raw, folder_ok=True)
    repair_interrupted(args.paths)
    _check_explicit_files(args.paths)
    options = dict(procedure=args.procedure, device=args.device, status=args.status, since=args.since,
                   until=args.until, scheduler=args.scheduler, workers=args.workers,
                   progress=False if args.no_progress else None)
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}: allowed >= 1")
    if args.plots_per_procedure < 0:
        raise UsageError(f"--plots-per-procedure {args.plots_per_procedure}: allowed >= 0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            summary = summarize(args.paths, **options)
        except ValueError as exc:  # a bad filter or scheduler value, named in the message
            raise UsageError(str(exc)) from exc
    for w in caught:
        print(f"memlab analyze: warning: {w.message}", file=sys.stderr)
    if summary.files == 0:
        raise UsageError(f"no run files (*.h5) in {', '.join(args.paths)}")
    if summary.runs.empty:
        why = f"{len(summary.skipped)} skipped, " if summary.skipped else ""
        raise UsageError(f"no analysable runs in {', '.join(args.paths)} ({why}{summary.files} files; "
                           "check the filters)")
    if args.report:
        title = args.title or f"memlab report: {Path(args.paths[0]).resolve().name}"
        result = write_report(args.paths, args.report, title=title, summary=summary,
                              plots_per_procedure=args.plots_per_procedure)
        n_runs = summary.runs["run"].nunique()
        print(f"{n_runs} runs, {len(summary.devices)} devices, {len(result.figures)} figures, "
              f"{len(summary.skipped)} files skipped")
        print(f"report: {result.index}")
        return 0
    devices = summary.devices
    if len(devices):
        keep = [c for c in devices.columns if devices[c].notna().any()]
        print(markdown_table(devices[keep]))
    if len(summary.chip):
        print()
        print(markdown_table(summary.chip[["figure", "value", "unit", "n"]]))
    return 0
