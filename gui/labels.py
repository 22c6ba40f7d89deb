"""Readable form labels for declared parameters: "Low conductance target [S]", not "g low s [S]".

A procedure that declares its own ``label`` keeps it; otherwise the label comes from this table
of the names memlab's procedures use, or from the name itself with its unit suffix dropped.
"""

from __future__ import annotations

from memlab.procedures import Parameter

READABLE: dict[str, str] = {
    "amplitude_v": "Pulse amplitude", "attempts": "Attempts", "band_high": "Band upper edge",
    "band_low": "Band lower edge", "baseline_reads": "Baseline reads", "burst": "Pulses per burst",
    "ceiling_v": "Voltage ceiling", "nplc": "Integration time [PLC]", "col": "Column", "cols": "Columns",
    "compliance_a": "Current compliance", "confirm": "Confirm", "count": "Count", "cycles": "Cycles",
    "delay_s": "Delay", "delays_s": "Delays", "devices": "Devices", "duration_s": "Duration",
    "first_read_s": "First read after", "first_s": "First point after", "frequency_hz": "Frequency",
    "g_high_s": "High conductance target", "g_low_s": "Low conductance target",
    "input_max_v": "Largest input voltage", "input_min_v": "Smallest input voltage",
    "interval_s": "Interval", "levels": "Levels", "light_width_s": "Light pulse width",
    "max_pulses": "Most pulses", "max_train": "Longest pulse train", "max_width_s": "Longest pulse width",
    "min_window": "Smallest on/off window", "mode": "Mode", "noise_v": "Noise amplitude",
    "on_failure": "On failure", "period_s": "Pulse period", "points": "Points", "power_w": "Optical power",
    "powers_w": "Optical powers", "program": "Program", "pulse_v": "Pulse amplitude", "pulses": "Pulses",
    "read_every": "Read every (pulses)", "read_v": "Read voltage", "reads": "Readings averaged",
    "relax_s": "Relaxation time", "repeats": "Repeats", "reset_pulses": "RESET pulses",
    "reset_v": "RESET voltage", "reset_width_s": "RESET pulse width", "row": "Row", "rows": "Rows",
    "samples": "Samples", "samples_per_decade": "Samples per decade", "seed": "Random seed",
    "set_v": "SET voltage", "set_width_s": "SET pulse width", "settle_s": "Settling time",
    "source": "Source", "spacing": "Spacing", "start_v": "Start voltage", "step_v": "Voltage step",
    "stimulus": "Stimulus", "stop_v": "Stop voltage", "stuck_tolerance": "Stuck-device tolerance",
    "target_resistance_ohm": "Target resistance", "target_s": "Conductance target",
    "tolerance": "Tolerance", "trials": "Trials", "v_high": "High voltage", "v_low": "Low voltage",
    "v_max": "Largest voltage", "v_min": "Smallest voltage", "v_start": "Start voltage",
    "v_step": "Voltage step", "v_stop": "Stop voltage", "vectors": "Input vectors",
    "wavelength_m": "Wavelength", "weights_s": "Weights (conductances)", "width_factor": "Width factor",
    "width_s": "Pulse width",
}
_UNIT_SUFFIXES = ("_s", "_v", "_a", "_w", "_m", "_hz", "_ohm")


def readable_label(param: Parameter) -> str:
    """The words of a parameter's form label, without the unit."""
    if param.label and param.label != param.name.replace("_", " "):
        return param.label  # the procedure chose its own words
    if param.name in READABLE:
        return READABLE[param.name]
    name = param.name
    for suffix in _UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    words = name.replace("_", " ")
    return words[:1].upper() + words[1:]


def label_with_unit(param: Parameter) -> str:
    """"Low conductance target [S]": the label and, if the parameter has one, its unit."""
    words = readable_label(param)
    return f"{words} [{param.unit}]" if param.unit and "[" not in words else words
