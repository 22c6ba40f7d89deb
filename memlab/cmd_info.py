"""`memlab info FILE`: metadata, status, the shape and units of each stream of a run file, and the size
of its command trace (with the last commands before the failure, for a failed run)."""

from __future__ import annotations

import argparse
import json

from memlab.storage import RunFileError, RunReader

#: commands shown for a failed run
LAST_COMMANDS = 20


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
        trace = _trace_summary(reader, info["status"])
    if trace is not None:
        info["trace"] = trace
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
    if trace is not None:
        if "damaged" in trace:
            print(f"trace       unreadable: {trace['damaged']}")
        elif not trace["enabled"]:
            print("trace       off (bench file: trace = false)")
        else:
            dropped = f", {trace['dropped']} dropped" if trace["dropped"] else ""
            print(f"trace       {trace['rows']} instrument messages, {trace['stored_bytes'] / 1e3:.1f} kB"
                  f"{dropped}")
        if trace.get("last"):
            print(f"last commands before the failure (of {trace['rows']}; all are in /trace)")
            for line in trace["last"]:
                print(f"  {line}")
    return 0


def _trace_summary(reader: RunReader, status: str) -> dict | None:
    """Size of the command trace; for a failed or interrupted run, its last commands before the
    safe shutdown began (all of them when the shutdown never began). A damaged trace is reported,
    not fatal: it is a diagnostic, and the rest of the file still reads."""
    try:
        trace = reader.trace(0, 0)
        if trace is None:
            return None
        last: list[str] = []
        if status in ("failed", "interrupted") and trace["rows"]:
            shutdown = trace["safe_shutdown_row"]
            end = shutdown if 0 <= shutdown <= trace["rows"] else trace["rows"]
            tail = reader.trace(max(end - LAST_COMMANDS, 0), end)
            last = [f"{t:14.6f} s  {who:<12} {kind:<5} {text}"
                    for t, who, kind, text in zip(tail["time_s"], tail["instrument"], tail["kind"], tail["text"])]
    except RunFileError as exc:
        return {"damaged": str(exc)}
    return {key: trace[key] for key in ("rows", "stored_bytes", "enabled", "dropped")} | {"last": last}
