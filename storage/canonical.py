"""Canonical names of the run parameters that several procedures record and analysis reads.

A run file stores each parameter under the name its procedure declares (``/parameters/<name>``,
with a ``units`` attribute). The procedures declare the quantities below under these names and no
other, so whoever reads a file looks a quantity up by one name instead of guessing aliases:

    from memlab.storage import canonical
    v_read = reader.parameters.get(canonical.READ_V)

The procedures' declarations use these constants (``memlab.procedures.common``), and a test checks
every registered procedure against :data:`CANONICAL_PARAMETERS`. This module sits in storage
because both procedures (which write files) and analysis (which may import storage only) need it.
"""

from __future__ import annotations

from typing import Final

__all__ = ["READ_V", "COMPLIANCE_A", "TARGET_RESISTANCE_OHM", "MIN_WINDOW", "CANONICAL_PARAMETERS"]

READ_V: Final = "read_v"
"""Read voltage [V]: the voltage reads are made at (and, for an I-V sweep, at which the loops'
high- and low-resistance states are read off)."""

COMPLIANCE_A: Final = "compliance_a"
"""Current compliance of the source-measure unit [A]."""

TARGET_RESISTANCE_OHM: Final = "target_resistance_ohm"
"""Forming: the read resistance at or below which a device counts as formed [ohm]."""

MIN_WINDOW: Final = "min_window"
"""Endurance: the Gset/Greset ratio below which a device has failed [1]."""

CANONICAL_PARAMETERS: Final[dict[str, tuple[str, str]]] = {
    READ_V: ("V", "read voltage: where reads are made (iv-sweep: where analysis reads HRS and LRS off the loops)"),
    COMPLIANCE_A: ("A", "current compliance of the source-measure unit"),
    TARGET_RESISTANCE_OHM: ("ohm", "forming: a device is formed once it reads at or below this"),
    MIN_WINDOW: ("", "endurance: the device has failed once Gset/Greset falls below this"),
}
"""Each canonical name with its unit (the same in every procedure that declares it) and meaning."""
