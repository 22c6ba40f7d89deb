"""`memlab gui [--bench FILE]`: the Qt dashboard (no file: the built-in simulated bench)."""

from __future__ import annotations

import argparse


def _families() -> list[str]:
    from memlab.instruments.sim.chip.presets import PRESETS

    return list(PRESETS)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the dashboard",
                       description="Open the dashboard: run procedures from generated forms, queue "
                                   "them, watch live plots, pick devices on the chip map, use the "
                                   "bench's manual controls and browse run files.")
    p.add_argument("--bench", help="bench file (TOML); default: the built-in simulated bench")
    p.add_argument("--family", choices=_families(), default=None,
                   help="chip family of the simulated chip (default: as the bench file says; built-in: prgo)")
    p.add_argument("--out", default=None,
                   help="folder for run files (default: the last one used, else ./runs)")
    p.add_argument("--operator", help="who runs (default: the login name)")
    p.add_argument("--settings", default=None,
                   help="settings file (INI) for layout and last values; default: the user's memlab settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.arguments import check_out_folder, check_text
    from memlab.cli import UsageError

    check_text("--operator", args.operator)
    if args.out is not None:
        check_out_folder("--out", args.out)

    try:
        from memlab.gui.app import run_dashboard
    except ImportError as exc:
        raise UsageError(f"the dashboard needs PySide6 and pyqtgraph: {exc}") from None
    try:
        return run_dashboard(args.bench, args.out, args.operator, args.settings, family=getattr(args, "family", None))
    except RuntimeError as exc:
        raise UsageError(str(exc)) from None
