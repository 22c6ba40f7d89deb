"""`memlab info FILE`: metadata, status, and the shape and units of each stream of a run file."""

from __future__ import annotations

import argparse
import json

from memlab.storage import RunReader


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show a run file's metadata, status and streams",
                       description="Print a run file's metadata, final status and the shape and "
                                   "units of each stream. Works on files still being written.")
    p.add_argument("file", help="a .h5 run file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from memlab.arguments import check_in_path

    check_in_path("FILE", args.file)
    with RunReader(args.file) as reader:
        info = reader.summary()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"file        {info['path']}")
    print(f"procedure   {info['procedure']} v{info['procedure_version']}")
    status = info["status"] + (f" ({info['error']})" if info["error"] else "")
    print(f"status      {status}")
    print(f"started     {info['start_time']}")
    print(f"ended       {info['end_time'] or '-'}")
    print(f"operator    {info['operator']}    memlab {info['software_version']}")
    chip = info["chip"]
    if chip:
        print("chip        " + ", ".join(f"{k}={v}" for k, v in chip.items()))
    if info["devices"]:
        print("devices     " + " ".join(f"({r},{c})" for r, c in info["devices"][:20])
              + (" ..." if len(info["devices"]) > 20 else ""))
    print("parameters")
    for name, p in info["parameters"].items():
        print(f"  {name:<22} {p['value']!s} {p['unit']}")
    if info["instruments"]:
        print("instruments")
        for role, snap in info["instruments"].items():
            kind = "simulated" if snap.get("simulated") else "real"
            print(f"  {role:<14} {snap.get('model', '?')}  {snap.get('identity', '')}  ({kind})")
    print("streams")
    for stream, columns in info["streams"].items():
        for column, meta in columns.items():
            shape = "x".join(str(n) for n in meta["shape"])
            print(f"  {stream + '/' + column:<30} {shape:<14} [{meta['units'] or '-'}]")
    return 0
