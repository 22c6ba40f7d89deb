"""`memlab procedures [NAME]`: list the procedures and their parameters."""

from __future__ import annotations

import argparse

from memlab.procedures import get_procedure, all_procedures


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("procedures", help="list the procedures and their parameters",
                       description="List every procedure, or one in detail, with each parameter's "
                                   "default, unit, allowed values and help.")
    p.add_argument("name", nargs="?", help="show only this procedure")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
