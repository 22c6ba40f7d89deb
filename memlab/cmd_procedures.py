"""`memlab procedures [NAME]`: list the procedures and their parameters; with ``--markdown``, print
(or ``--out`` write) docs/procedure-streams.md from the procedures' declarations."""

from __future__ import annotations

import argparse
from pathlib import Path

from memlab.procedures import get_procedure, all_procedures
from memlab.procedures.docgen import procedure_streams_markdown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("procedures", help="list the procedures and their parameters",
                       description="List every procedure, or one in detail, with each parameter's "
                                   "default, unit, allowed values and help.")
    p.add_argument("name", nargs="?", help="show only this procedure")
    p.add_argument("--markdown", action="store_true",
                   help="print the table of every procedure's streams (docs/procedure-streams.md) instead")
    p.add_argument("--out", metavar="FILE", help="write that table to FILE (implies --markdown)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.markdown or args.out:
        procs = {args.name: get_procedure(args.name)} if args.name else None
        text = procedure_streams_markdown(procs)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
        else:
            print(text, end="")
        return 0
    procs = {args.name: get_procedure(args.name)} if args.name else all_procedures()
    for name, cls in procs.items():
        roles = ", ".join(cls.requires) or "no instrument"
        print(f"{name} (v{cls.version}): {cls.title}  [uses: {roles}]")
        if cls.description:
            print(f"    {cls.description}")
        for param in cls.parameters:
            default = "" if param.default is None else param.default
            print(f"    --set {param.name}={default!s:<10} {param.allowed():<40} {param.help}")
        print()
    return 0
