"""`memlab twin export`: a device model for analog-AI simulators (aihwkit JSON, NeuroSim CSV).

The source is a chip family preset or a fitted twin file (``memlab twin fit``), simulated; both
give per-device parameter arrays (``memlab.analysis.device_export.DevicePopulation``).
See docs/export.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from memlab.arguments import UsageError, parse_number, shown

DERIVATIONS = ("law", "pulses")
_OPTION_OF = {"amplitude_v/width_s": "--pulse-amplitude-v/--pulse-width-s",
              "amplitude_v=": "--pulse-amplitude-v=", "width_s=": "--pulse-width-s=",
              "coverage=": "--coverage="}


def add_export_parser(twin_subparsers: argparse._SubParsersAction) -> None:
    from memlab.analysis.device_export import EXPORT_FORMATS
    from memlab.instruments.sim.chip import PRESETS

    p = twin_subparsers.add_parser(
        "export", help="write a device model for aihwkit (JSON) or NeuroSim (CSV)",
        description="Derive a device model (step sizes, bounds, noise, device-to-device spreads) "
                    "from a simulated chip of a family preset and write it as an aihwkit "
                    "SoftBoundsDevice configuration (JSON) or a NeuroSim parameter table (CSV). "
                    "See docs/export.md for the mapping and conventions.")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to write")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--family", choices=sorted(PRESETS),
                        help="the chip family preset the devices are drawn from")
    source.add_argument("--twin", metavar="TWIN.h5",
                        help="a fitted twin (memlab twin fit): its measured devices, and devices "
                             "drawn from its fitted distributions for the rest of its chip")
    p.add_argument("--out", required=True, help="the file to write (.json or .csv)")
    p.add_argument("--derive", choices=DERIVATIONS, default="law",
                   help="law: from the parameters the model drew for each device (default); "
                        "pulses: by pulsing the simulated devices and fitting the law")
    p.add_argument("--seed", default="0", help="seed of the simulated chip (default 0)")
    p.add_argument("--array-size", default="64",
                   help="the simulated chip is N x N devices (law; default 64)")
    p.add_argument("--devices", default="32", help="devices characterised (pulses; default 32)")
    p.add_argument("--pulses", default="150",
                   help="pulses each way per device (pulses; default 150)")
    p.add_argument("--pulse-amplitude-v", default=None,
                   help="programming pulse amplitude (default: the family's reference pulse)")
    p.add_argument("--pulse-width-s", default=None,
                   help="programming pulse width (default: the family's reference pulse)")
    p.add_argument("--coverage", default="0.95",
                   help="neurosim: levels = pulses to cross this fraction of the window (0..1)")
    p.set_defaults(func=run)


def _twin(value: str):  # -> memlab.twin.Twin
    from memlab.arguments import check_in_path
    from memlab.twin.file import TwinFileError, load_twin

    check_in_path("--twin", value)
    try:
        return load_twin(value)
    except TwinFileError as exc:
        raise UsageError(f"--twin: {exc}") from None


def _out_path(value: str, suffix: str) -> Path:
    if not value or "\x00" in value:
        raise UsageError(f"--out {shown(value)}: allowed: a file path")
    path = Path(value)
    if path.suffix.lower() != suffix:
        raise UsageError(f"--out {shown(value)}: allowed: a file name ending in {suffix}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--out {shown(value)}: its folder {shown(str(parent))} does not exist")
    if path.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"--out {shown(value)}: cannot be written")
    return path


def _range(option: str, value: str, low: int, high: int) -> int:
    number = parse_number(option, value, integer=True, allowed=f"an integer in {low}..{high}")
    if not low <= number <= high:
        raise UsageError(f"--{option.lstrip('-')}={number}: allowed: an integer in {low}..{high}")
    return int(number)


def run(args: argparse.Namespace) -> int:
    from memlab.analysis import device_export as export
    from memlab.instruments.sim.chip import Chip

    out = _out_path(args.out, ".json" if args.format == "aihwkit" else ".csv")
    seed = _range("--seed", args.seed, 0, 2**32 - 1)
    size = _range("--array-size", args.array_size, 2, 1024)
    devices = _range("--devices", args.devices, 2, 1024)
    pulses = _range("--pulses", args.pulses, 10, 100_000)
    amplitude = None if args.pulse_amplitude_v is None else \
        parse_number("--pulse-amplitude-v", args.pulse_amplitude_v)
    width = None if args.pulse_width_s is None else parse_number("--pulse-width-s", args.pulse_width_s)
    coverage = parse_number("--coverage", args.coverage)
    twin = _twin(args.twin) if args.twin is not None else None
    family = twin.family if twin is not None else args.family
    try:
        if twin is not None:  # the twin's own chip: its size, fitted devices and distributions
            chip = Chip(seed=seed, **twin.chip_kwargs())
            source = {"twin": os.path.basename(args.twin), "family": family, "seed": seed,
                      "array": f"{twin.rows} x {twin.cols}"}
        if args.derive == "law":
            if twin is None:
                chip = Chip(size, size, family=family, seed=seed)
                source = {"family": family, "seed": seed, "array": f"{size} x {size}"}
            population = export.population_from_chip(chip, source)
        else:
            if twin is None:
                side = max(2, int(devices ** 0.5) + 2)  # room for the stuck devices
                chip = Chip(side, side, family=family, seed=seed)
                source = {"family": family, "seed": seed}
            population = export.measure_pulse_response(chip, devices=devices, pulses=pulses)
            population.source.update(source)
        if args.format == "aihwkit":
            config = export.aihwkit_config(population, amplitude, width)
            export.write_aihwkit_json(out, config)
            dw = config["statistics"]["dw_min"]
            summary = (f"SoftBoundsDevice dw_min={config['rpu_config']['device']['parameters']['dw_min']:.4g} "
                       f"(mean step of the stronger direction {dw['value']:.4g} "
                       f"+- {dw['standard_error']:.2g})")
        else:
            rows = export.neurosim_table(population, amplitude, width, coverage)
            export.write_neurosim_csv(out, rows)
            by_name = {row["parameter"]: row for row in rows}
            summary = (f"{by_name['maxNumLevelLTP']['value']} LTP / "
                       f"{by_name['maxNumLevelLTD']['value']} LTD levels, NL "
                       f"{by_name['NL_LTP']['value']:.2f} / {by_name['NL_LTD']['value']:.2f}, "
                       f"on/off {by_name['onOffRatio']['value']:.3g}")
    except export.ExportParameterError as exc:
        message = str(exc)
        for name, option in _OPTION_OF.items():  # the names the user typed
            message = message.replace(name, option)
        raise UsageError(message) from None
    print(f"wrote {out}: {summary}; {population.devices} {family} devices ({args.derive})")
    return 0
