"""Runs the memlab command line in a child process for signal, kill and disk tests.

``python child.py STATE_JSON [FSIZE_BYTES|-] memlab-args...``: runs ``memlab.cli.main`` on the
arguments and, however the process ends short of SIGKILL, writes the simulated instruments'
own output states to STATE_JSON (read from the twins, not through the drivers). With a byte
count, the process may not write files beyond it (``RLIMIT_FSIZE``, like ``ulimit -f``) and
ignores SIGXFSZ, so a write past it fails with "File too large" as on a full disk.
"""

from __future__ import annotations

import atexit
import json
import resource
import signal
import sys

import memlab.instruments.bench as bench_module
from memlab.cli import main

state_file, fsize, args = sys.argv[1], sys.argv[2], sys.argv[3:]
benches = []
_load = bench_module.load_bench


def _capture(*a, **k):
    bench = _load(*a, **k)
    benches.append(bench)
    return bench


def _dump_states() -> None:
    states = []
    for bench in benches:
        twins = bench.twins
        states.append({"smu": bool(twins["smu"].state["output"]),
                       "pulser": bool(twins["pulser"].state["out1"]),
                       "laser": bool(twins["laser"].state["ld_on"]),
                       "laser_power_w": bench.world.laser_power_w})
    with open(state_file, "w") as handle:
        json.dump(states, handle)


bench_module.load_bench = _capture
atexit.register(_dump_states)
if fsize != "-":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(fsize), int(fsize)))
print("child ready", flush=True)
sys.exit(main(args))
