"""`memlab demo`: the main job on the built-in simulated bench."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from memlab.arguments import check_out_folder
from memlab.cmd_campaign import CampaignProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demonstration campaigns on the built-in simulated bench",
                       description="Run short campaigns on simulated prGO and optomemristor chips "
                                   "(forming, I-V, multi-level programming, retention, "
                                   "potentiation/depression, VMM, optical, three-factor, XOR), "
                                   "print their summaries and where the run files are.")
    p.add_argument("--out", default="runs", help="folder for the run files (default: runs); "
                                                 "its demo sub-folders are replaced")
    p.set_defaults(func=run, progress_bar=True)


def run(args: argparse.Namespace) -> int:
    from memlab.procedures.demo import DEMO_PLANS, demo_plan, run_demo

    out = check_out_folder("--out", args.out)
    for plan_file, _, _ in DEMO_PLANS:  # a demo always starts afresh
        shutil.rmtree(out / demo_plan(plan_file).name, ignore_errors=True)
    bars: list[CampaignProgress] = []

    def progress(campaign):
        bars.append(CampaignProgress(campaign))
        return [bars[-1]]

    t0 = time.monotonic()
    try:
        results = run_demo(out, progress)
    finally:
        for bar in bars:
            bar.close()
    for result in results:
        print(f"\n== {result.manifest['campaign']}: {result.status} ({result.out_dir})")
        print(result.summary)
    for text in optomemristor_figures(out) + learning_figures(out):
        print(text)
    files = sorted(out.glob("*/*.h5"))
    print(f"\n{len(files)} run files in {out.resolve()} ({time.monotonic() - t0:.0f} s)")
    print(f"next: memlab analyze {out} --report {out}/report")
    return 0 if all(r.ok for r in results) else 1


def optomemristor_figures(out: Path) -> list[str]:
    """The optomemristor demo's headline results: the XOR truth table (the device's four
    responses at one threshold) and the three-factor window of both orders, from the first
    device's run files (nothing when the demo did not produce them)."""
    import numpy as np

    from memlab.analysis.metrics.optical import coincidence_window
    from memlab.storage import RunReader

    texts = []
    folder = out / "demo-optomemristor"
    xor = sorted(folder.glob("r0c0_*_xor_r0c0.h5"))
    if xor:
        with RunReader(xor[0]) as r:
            resp = r.stream("responses").arrays()
            res = r.stream("result").arrays()
        lines = ["\n== optomemristor XOR (two light inputs, one read voltage, one threshold; device (0,0))",
                 "   A B   current        output"]
        realisable = bool(res["realisable"][0])
        threshold = float(res["threshold"][0])
        for a, b, current in zip(resp["input_a"], resp["input_b"], resp["current"]):
            output = int(current > threshold) if realisable else "-"
            lines.append(f"   {a} {b}   {current:.4g} A   {output}")
        if realisable:
            lines.append(f"   threshold {threshold:.4g} A, margin {float(res['margin'][0]):.3g} A "
                         f"({float(res['margin_sigmas'][0]):.3g} noise sigmas), accuracy "
                         f"{float(res['accuracy'][0]):.2%} over {int(res['trials'][0])} noisy truth tables")
        else:
            lines.append("   XOR not realisable on this device (see the run's log)")
        texts.append("\n".join(lines))
    window = sorted(folder.glob("r0c0_*_three-factor_r0c0.h5"))
    if window:
        with RunReader(window[0]) as r:
            s = r.stream("coincidence").arrays()
        delay, delta = s["delay"], s["delta"]
        if "pulses" in s:  # the run's own train size; the longer one serves the step law's fit
            main = s["pulses"] == np.min(s["pulses"])
            delay, delta = delay[main], delta[main]
        fit = coincidence_window(delay, delta)
        lines = ["\n== optomemristor three-factor window (device (0,0)); delay < 0: pulses first, > 0: light first",
                 "   delay       mean change"]
        for d in [np.nan] + sorted(set(delay[np.isfinite(delay)].round(2))):
            pick = np.isnan(delay) if np.isnan(d) else np.isclose(delay.round(2), d)
            label = "no light" if np.isnan(d) else f"{d:+.2f} s"
            lines.append(f"   {label:>9}   {float(np.mean(delta[pick])):+.3e} S")
        lines.append(f"   light then pulse: tau_e = {fit.tau_light_pulse_s}")
        lines.append(f"   pulse then light: tau_pl = {fit.tau_pulse_light_s}")
        texts.append("\n".join(lines))
    return texts


def learning_figures(out: Path) -> list[str]:
    """The learning demos' headline results, from their run files (nothing when absent)."""
    from memlab.storage import RunReader

    texts = []
    train = sorted((out / "demo-crossbar").glob("*_crossbar-train_*.h5"))
    if train:
        with RunReader(train[0]) as r:
            e = r.stream("epochs").arrays()
        texts.append("\n== crossbar-train (prGO, in-situ training on differential pairs)\n"
                     f"   test accuracy after {len(e['epoch'])} epochs: crossbar {e['test_accuracy'][-1]:.0%}, "
                     f"floating point {e['float_test_accuracy'][-1]:.0%} (first epoch {e['test_accuracy'][0]:.0%}); "
                     f"{int(e['pulses'].sum())} update pulses")
    maze = sorted((out / "demo-maze").glob("*_maze-rl_*.h5"))
    if maze:
        with RunReader(maze[0]) as r:
            e = r.stream("episodes").arrays()
        texts.append("\n== maze-rl (optomemristor, three-factor rule with light as reward)\n"
                     f"   steps per episode, chip:     {' '.join(str(int(x)) for x in e['steps'])}\n"
                     f"   steps per episode, software: {' '.join(str(int(x)) for x in e['baseline_steps'])}")
    return texts
