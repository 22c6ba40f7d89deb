"""How a bench's switch matrix joins instrument terminals to the devices of a crossbar chip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from memlab.errors import MemlabError

from .limits import require_int


class WiringError(MemlabError, ValueError):
    """A wiring that cannot be used (a letter wired twice, a pad outside the matrix, ...)."""


_PAD = re.compile(r"^[1-9][0-9]{2}$")
_LETTERS = "ABCDEFGH"
#: how the instrument terminals take turns on a device (see :class:`CrossbarWiring`)
ROUTING_MODES = ("exclusive", "shared", "bias_tee")


@dataclass(frozen=True)
class CrossbarWiring:
    """How a switch matrix joins instrument terminals to the devices of a crossbar chip.

    A terminal (``"smu"``, ``"pulse"``, ...) is wired to two matrix *rows* (letters ``A``..``H``):
    its HI side to the first, its LO side to the second. Every chip row line and chip column line
    is wired to one matrix *column*, called a pad and written ``"<slot><two-digit column>"``
    (``"101"`` = slot 1, column 1). Connecting terminal ``t`` to device ``(row, col)`` closes
    ``<slot><HI letter><column>`` at the pad of chip row ``row`` and ``<slot><LO letter><column>``
    at the pad of chip column ``col`` - channel names as the Keithley 707B/708B spell them
    (``"1A01"``).

    The default (:meth:`default`): ``smu`` on rows A (HI) / B (LO), ``pulse`` on C / D; chip rows on
    pads 1, 2, ... and chip columns on the pads after them, 12 pads per card, slot 1 first
    (a 4 x 4 chip: rows on ``101``..``104``, columns on ``105``..``108``).

    ``routing`` says how the terminals take turns on a device:

    - ``"exclusive"``: one terminal on a device at a time; changing instrument opens one terminal's
      relays and closes the other's (two switching operations);
    - ``"shared"``: every terminal is closed onto the device at once and stays there while the
      procedure uses that device; the idle instrument waits with its output off (high impedance);
    - ``"bias_tee"``: the terminals are joined by a bias tee before the matrix, so they share one
      pair of matrix rows (give them the same letters) and reach the device together.
    """

    terminals: Mapping[str, tuple[str, str]]
    row_pads: tuple[str, ...]
    col_pads: tuple[str, ...]
    routing: str = "exclusive"

    def __post_init__(self) -> None:
        terminals = {str(name): tuple(letters) for name, letters in dict(self.terminals).items()}
        if not terminals:
            raise WiringError("CrossbarWiring: terminals is empty; wire at least one instrument terminal")
        if self.routing not in ROUTING_MODES:
            raise WiringError(f"CrossbarWiring: routing={self.routing!r} is not allowed; allowed: "
                              f"{', '.join(ROUTING_MODES)}")
        used: dict[str, str] = {}
        pairs: dict[tuple[str, ...], str] = {}
        for name, letters in terminals.items():
            if len(letters) != 2 or any(letter not in _LETTERS for letter in letters) or letters[0] == letters[1]:
                raise WiringError(
                    f"CrossbarWiring: terminals[{name!r}]={letters!r}: give two different matrix row letters "
                    f"from {_LETTERS} (HI, LO)"
                )
            if self.routing == "bias_tee" and letters in pairs:
                continue  # joined by the bias tee: both terminals on the one pair of rows
            pairs[letters] = name
            for letter in letters:
                if letter in used:
                    if self.routing == "bias_tee":
                        raise WiringError(
                            f"CrossbarWiring: terminals[{name!r}]={letters!r}: behind a bias tee terminals share "
                            f"both rows {list(letters)} with {used[letter]!r} or none"
                        )
                    raise WiringError(
                        f"CrossbarWiring: matrix row {letter} is wired to both {used[letter]!r} and {name!r}"
                    )
                used[letter] = name
        row_pads = tuple(str(p) for p in self.row_pads)
        col_pads = tuple(str(p) for p in self.col_pads)
        if not row_pads or not col_pads:
            raise WiringError("CrossbarWiring: row_pads and col_pads must each name at least one pad")
        for pad in row_pads + col_pads:
            if not _PAD.match(pad) or not 1 <= int(pad[1:]) <= 99:
                raise WiringError(f"CrossbarWiring: pad {pad!r} must be '<slot 1-9><column 01-99>', e.g. '101'")
        if len(set(row_pads + col_pads)) != len(row_pads) + len(col_pads):
            raise WiringError("CrossbarWiring: a pad is wired to more than one chip line")
        object.__setattr__(self, "terminals", terminals)
        object.__setattr__(self, "row_pads", row_pads)
        object.__setattr__(self, "col_pads", col_pads)
        if self.routing == "bias_tee" and len(pairs) == len(terminals):
            raise WiringError("CrossbarWiring: routing='bias_tee' needs the terminals the tee joins on the same "
                              f"two matrix rows, got {terminals}")

    @classmethod
    def default(
        cls,
        rows: int,
        cols: int,
        terminals: Mapping[str, tuple[str, str]] | None = None,
        columns_per_card: int = 12,
        slots: int = 6,
        routing: str = "exclusive",
    ) -> "CrossbarWiring":
        """Chip rows then chip columns on consecutive pads, ``columns_per_card`` per slot."""
        rows = require_int("rows", rows, 1, 10_000)
        cols = require_int("cols", cols, 1, 10_000)
        if rows + cols > columns_per_card * slots:
            raise WiringError(
                f"CrossbarWiring.default: a {rows} x {cols} chip needs {rows + cols} matrix columns, the matrix "
                f"has {columns_per_card * slots} ({slots} slots x {columns_per_card}); give row_pads/col_pads"
            )
        pads = [f"{1 + k // columns_per_card}{k % columns_per_card + 1:02d}" for k in range(rows + cols)]
        return cls(
            terminals=dict(terminals) if terminals is not None else {"smu": ("A", "B"), "pulse": ("C", "D")},
            row_pads=tuple(pads[:rows]),
            col_pads=tuple(pads[rows:]),
            routing=routing,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "CrossbarWiring":
        """From a bench-file table with keys ``terminals``, ``row_pads``, ``col_pads`` and optional ``routing``."""
        unknown = sorted(set(data) - {"terminals", "row_pads", "col_pads", "routing"})
        if unknown:
            raise WiringError(f"wiring: unknown key(s) {unknown}; allowed: terminals, row_pads, col_pads, routing")
        try:
            return cls(
                terminals={k: tuple(v) for k, v in dict(data["terminals"]).items()},
                row_pads=tuple(data["row_pads"]),
                col_pads=tuple(data["col_pads"]),
                routing=str(data.get("routing", "exclusive")),
            )
        except KeyError as exc:
            raise WiringError(f"wiring: missing key {exc.args[0]!r} (need terminals, row_pads, col_pads)") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "terminals": {k: list(v) for k, v in self.terminals.items()},
            "row_pads": list(self.row_pads),
            "col_pads": list(self.col_pads),
            "routing": self.routing,
        }

    def channels(self, terminal: str, row: int, col: int) -> tuple[str, str]:
        """The two channels that join ``terminal`` to device ``(row, col)``: (HI at the row, LO at the col)."""
        if terminal not in self.terminals:
            raise WiringError(f"terminal={terminal!r} is not wired; wired terminals: {sorted(self.terminals)}")
        row = require_int("row", row, 0, len(self.row_pads) - 1, "wired chip rows")
        col = require_int("col", col, 0, len(self.col_pads) - 1, "wired chip columns")
        hi, lo = self.terminals[terminal]
        row_pad, col_pad = self.row_pads[row], self.col_pads[col]
        return f"{row_pad[0]}{hi}{row_pad[1:]}", f"{col_pad[0]}{lo}{col_pad[1:]}"

    def terminal_of(self, channel: str) -> str | None:
        """The terminal wired to a channel's matrix row (the first, behind a bias tee), or None."""
        for name, letters in self.terminals.items():
            if len(channel) >= 2 and channel[1] in letters:
                return name
        return None

    def terminals_of(self, channel: str) -> set[str]:
        """Every terminal wired to a channel's matrix row (two or more behind a bias tee)."""
        return {name for name, letters in self.terminals.items() if len(channel) >= 2 and channel[1] in letters}

    @staticmethod
    def pad_of(channel: str) -> str:
        """The pad (matrix column) of a channel: ``"1A05"`` -> ``"105"``."""
        return channel[0] + channel[2:]


