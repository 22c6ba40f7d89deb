"""Simulated Keithley 707B (six-slot) / 708B (one-slot) switching matrix, programmed in TSP.

The twin runs the Lua it receives (:mod:`memlab.instruments.sim.tsp`) with the ``channel`` object of the
707B: ``channel.close``, ``channel.open``, ``channel.exclusiveclose``,
``channel.exclusiveslotclose``, ``channel.getclose``, ``channel.getstate``, ``channel.getcount``,
``channel.reset``, ``channel.setdelay``/``getdelay``, ``channel.connectrule`` and channel patterns
(``channel.pattern.setimage``/``getimage``/``delete``).

Channel lists are as the manual writes them: ``"1A01"`` (slot 1, row A, column 01), ranges
``"1A01:1C04"`` (the rectangle of rows A..C and columns 01..04), ``"slot1"``, ``"allslots"`` and
pattern names, separated by commas or semicolons. ``close`` refuses ``slotX``/``allslots``; an
invalid item refuses the whole list and nothing switches. ``getclose`` answers the closed
channels sorted (``"1A01;1B05"``) or ``nil``.

Closed relays become routes in the world through the bench's
:class:`~instruments.interfaces.CrossbarWiring`: a terminal whose HI row reaches the pad of chip
row ``r`` while its LO row reaches the pad of chip column ``c`` is routed to device ``(r, c)``.
A terminal reaching more than one device at once (or with HI and LO swapped) is left unrouted:
the world has one device per terminal.

Each switching operation charges the relays' actuation and settling (``relay_settle_s``, by default
:data:`RELAY_SETTLE_S`; a bench file sets it per matrix) plus any per-channel delay set with
``channel.setdelay``.
"""

from __future__ import annotations

import re
from typing import Any

from memlab.instruments.interfaces import CrossbarWiring
from memlab.instruments.sim.tsp import (
    PARAMETER_ERROR,
    Attr,
    TspError,
    TspInstrument,
    TspObject,
    number_arg,
    string_arg,
)
from memlab.instruments.sim.world import SimWorld

ROWS = "ABCDEFGH"
COLUMNS = 12
#: reed-relay actuation plus settling of a 7174A-class matrix card, per switching operation
RELAY_SETTLE_S = 3e-3
_CHANNEL = re.compile(r"^([1-6])([A-Ha-h])(\d{2})$")

Channel = tuple[int, int, int]  # slot, row index, column (1-based)


def channel_name(channel: Channel) -> str:
    slot, row, column = channel
    return f"{slot}{ROWS[row]}{column:02d}"


class ChannelPatterns(TspObject):
    """``channel.pattern``: named channel lists usable wherever a channel list is."""

    def __init__(self, instrument: Keithley707BTwin) -> None:
        super().__init__(instrument, "channel.pattern")
        self._images: dict[str, frozenset[Channel]] = {}

    def setimage(self, channels: Any, name: Any) -> None:
        pattern = string_arg("channel.pattern.setimage name", name)
        if _CHANNEL.match(pattern) or pattern.lower() in ("allslots",) or pattern.lower().startswith("slot"):
            raise TspError(PARAMETER_ERROR, f"Parameter error pattern name {pattern!r} is a channel name")
        self._images[pattern] = self._instrument.parse(channels, "channel.pattern.setimage", allow_slots=False)

    def getimage(self, name: Any) -> str | None:
        pattern = string_arg("channel.pattern.getimage name", name)
        if pattern not in self._images:
            raise TspError(PARAMETER_ERROR, f"Parameter error pattern {pattern!r} does not exist")
        return self._instrument.format_list(self._images[pattern])

    def delete(self, name: Any) -> None:
        self._images.pop(string_arg("channel.pattern.delete name", name), None)


class ChannelObject(TspObject):
    """``channel``: the switching functions of the 707B/708B."""

    OFF = 0
    BREAK_BEFORE_MAKE = 1
    MAKE_BEFORE_BREAK = 2

    connectrule = Attr(1, choices=(0, 1, 2), kind=int)
    connectsequential = Attr(0, choices=(0, 1), kind=int)

    def __init__(self, instrument: Keithley707BTwin) -> None:
        super().__init__(instrument, "channel")
        object.__setattr__(self, "pattern", ChannelPatterns(instrument))

    def close(self, channels: Any) -> None:
        twin = self._instrument
        twin.switch(twin.closed | twin.parse(channels, "channel.close", allow_slots=False))

    def open(self, channels: Any) -> None:
        twin = self._instrument
        twin.switch(twin.closed - twin.parse(channels, "channel.open"))

    def exclusiveclose(self, channels: Any) -> None:
        twin = self._instrument
        twin.switch(twin.parse(channels, "channel.exclusiveclose", allow_slots=False))

    def exclusiveslotclose(self, channels: Any) -> None:
        twin = self._instrument
        wanted = twin.parse(channels, "channel.exclusiveslotclose", allow_slots=False)
        slots = {slot for slot, _, _ in wanted}
        twin.switch({c for c in twin.closed if c[0] not in slots} | wanted)

    def getclose(self, channels: Any) -> str | None:
        twin = self._instrument
        return twin.format_list(twin.closed & twin.parse(channels, "channel.getclose"))

    def getstate(self, channels: Any) -> str:
        twin = self._instrument
        selected = sorted(twin.parse(channels, "channel.getstate"))
        return ",".join("1" if c in twin.closed else "0" for c in selected)

    def getcount(self, channels: Any) -> str:
        twin = self._instrument
        selected = sorted(twin.parse(channels, "channel.getcount"))
        return ",".join(str(twin.close_counts.get(c, 0)) for c in selected)

    def reset(self, channels: Any) -> None:
        twin = self._instrument
        selected = twin.parse(channels, "channel.reset")
        for c in selected:
            twin.delays.pop(c, None)
        twin.switch(twin.closed - selected)

    def setdelay(self, channels: Any, delay: Any) -> None:
        twin = self._instrument
        seconds = number_arg("channel.setdelay delay", delay, minimum=0.0, maximum=60.0)
        for c in twin.parse(channels, "channel.setdelay"):
            twin.delays[c] = seconds

    def getdelay(self, channels: Any) -> str:
        twin = self._instrument
        selected = sorted(twin.parse(channels, "channel.getdelay"))
        return ",".join(twin.format_number(twin.delays.get(c, 0.0)) for c in selected)


class Keithley707BTwin(TspInstrument):
    """A simulated 707B (``slots`` 1..6 matrix cards of 8 rows x 12 columns) or 708B.

    :param world: the bench's shared chip, clock and routes.
    :param name: the instrument's name on the bench.
    :param wiring: how matrix rows reach instrument terminals and matrix columns reach chip lines;
        None: relays switch but route nothing.
    :param slots: installed cards, slots 1..``slots``.
    :param model_number: "707B" or "708B" (one slot).
    :param relay_settle_s: actuation plus settling of the relay cards, charged per switching operation.
    """

    ascii_digits = 10  # format.asciiprecision after reset (707B reference manual)

    firmware = "1.5.0"
    default_serial = "4395011"

    def __init__(
        self,
        world: SimWorld,
        name: str = "switch",
        *,
        serial: str | None = None,
        wiring: CrossbarWiring | None = None,
        slots: int = 6,
        model_number: str = "707B",
        relay_settle_s: float = RELAY_SETTLE_S,
    ) -> None:
        if not 0.0 <= relay_settle_s <= 1.0:
            raise ValueError(f"relay_settle_s={relay_settle_s!r}: allowed 0 .. 1 s")
        self.relay_settle_s = float(relay_settle_s)
        if model_number not in ("707B", "708B"):
            raise ValueError(f"model_number={model_number!r}: allowed '707B', '708B'")
        top = 6 if model_number == "707B" else 1
        if not isinstance(slots, int) or not 1 <= slots <= top:
            raise ValueError(f"slots={slots!r}: a {model_number} holds 1..{top} cards")
        if wiring is not None:
            for pad in wiring.row_pads + wiring.col_pads:
                if int(pad[0]) > slots or int(pad[1:]) > COLUMNS:
                    raise ValueError(f"wiring: pad {pad!r} is not on this matrix ({slots} slot(s) "
                                     f"of {COLUMNS} columns)")
        self.model_number = model_number
        self.slots = slots
        self.wiring = wiring
        self.closed: frozenset[Channel] = frozenset()
        self.close_counts: dict[Channel, int] = {}
        self.switch_operations = 0  # relay movements charged since the twin was made (for tests, benchmarks)
        self.delays: dict[Channel, float] = {}
        if wiring is not None:
            self._row_line = {pad: i for i, pad in enumerate(wiring.row_pads)}
            self._col_line = {pad: j for j, pad in enumerate(wiring.col_pads)}
        super().__init__(world, name, serial=serial)

    def install(self, g: Any) -> None:
        self.channel = ChannelObject(self)
        g.channel = self.channel

    def reset_model(self) -> None:
        self.channel._reset_values()
        self.delays.clear()
        self.switch(frozenset())

    def format_number(self, value: float) -> str:
        return self.format.number(value)

    # -- channel lists ------------------------------------------------------------------------------

    def _slot_channels(self, slot: int) -> set[Channel]:
        return {(slot, r, c) for r in range(len(ROWS)) for c in range(1, COLUMNS + 1)}

    def _one(self, text: str, where: str) -> Channel:
        match = _CHANNEL.match(text)
        if match is None:
            raise TspError(PARAMETER_ERROR, f"Parameter error {where}: {text!r} is not a channel "
                                            f"(expected <slot><row A-H><column 01-{COLUMNS}>, e.g. 1A01)")
        slot, row, column = int(match[1]), ROWS.index(match[2].upper()), int(match[3])
        if slot > self.slots:
            raise TspError(PARAMETER_ERROR, f"Parameter error {where}: slot {slot} of {text!r} is empty "
                                            f"(cards in slots 1..{self.slots})")
        if not 1 <= column <= COLUMNS:
            raise TspError(PARAMETER_ERROR, f"Parameter error {where}: column {column} of {text!r} "
                                            f"does not exist (01..{COLUMNS})")
        return slot, row, column

    def parse(self, value: Any, where: str, *, allow_slots: bool = True) -> frozenset[Channel]:
        """A channel list as a set of channels; any invalid item refuses the whole list."""
        text = string_arg(where, value)
        result: set[Channel] = set()
        for item in re.split(r"[,;]", text):
            item = item.strip()
            if not item:
                continue
            lower = item.lower()
            if lower == "allslots" or (lower.startswith("slot") and lower[4:].isdigit()):
                if not allow_slots:
                    raise TspError(PARAMETER_ERROR, f"Parameter error {where}: {item!r} is not allowed here")
                if lower == "allslots":
                    for slot in range(1, self.slots + 1):
                        result |= self._slot_channels(slot)
                    continue
                slot = int(lower[4:])
                if not 1 <= slot <= self.slots:
                    raise TspError(PARAMETER_ERROR, f"Parameter error {where}: {item!r}: slots 1..{self.slots}")
                result |= self._slot_channels(slot)
            elif item in self.channel.pattern._images:
                result |= self.channel.pattern._images[item]
            elif ":" in item:
                first_text, _, last_text = item.partition(":")
                first = self._one(first_text.strip(), where)
                last = self._one(last_text.strip(), where)
                if first[0] != last[0] or first[1] > last[1] or first[2] > last[2]:
                    raise TspError(PARAMETER_ERROR, f"Parameter error {where}: range {item!r} must run "
                                                    "from the lowest to the highest channel of one slot")
                result |= {(first[0], r, c) for r in range(first[1], last[1] + 1)
                           for c in range(first[2], last[2] + 1)}
            else:
                result.add(self._one(item, where))
        return frozenset(result)

    def format_list(self, channels: frozenset[Channel] | set[Channel]) -> str | None:
        """``"1A01;1B05"`` sorted as the instrument lists them, or None (Lua nil) when empty."""
        if not channels:
            return None
        return ";".join(channel_name(c) for c in sorted(channels))

    # -- switching ----------------------------------------------------------------------------------

    def switch(self, wanted: frozenset[Channel] | set[Channel]) -> None:
        """Make ``wanted`` the closed set: count closures, charge settling, update routes."""
        wanted = frozenset(wanted)
        changed = wanted ^ self.closed
        if not changed:
            return
        for channel in wanted - self.closed:
            self.close_counts[channel] = self.close_counts.get(channel, 0) + 1
        self.closed = wanted
        self.charge(0.0)  # the message's bus time passes before the relays move
        self._update_routes()
        self.switch_operations += 1
        self.charge(self.relay_settle_s + max((self.delays.get(c, 0.0) for c in changed), default=0.0))

    def _update_routes(self) -> None:
        wiring = self.wiring
        if wiring is None:
            return
        world = self.world
        closed_names = {channel_name(c) for c in self.closed}
        for terminal, (hi, lo) in wiring.terminals.items():
            rows = [i for pad, i in self._row_line.items() if f"{pad[0]}{hi}{pad[1:]}" in closed_names]
            cols = [j for pad, j in self._col_line.items() if f"{pad[0]}{lo}{pad[1:]}" in closed_names]
            if len(rows) == 1 and len(cols) == 1 and rows[0] < world.chip.rows and cols[0] < world.chip.cols:
                world.connect(terminal, rows[0], cols[0])
            else:
                world.disconnect(terminal)

    def closed_names(self) -> list[str]:
        """The closed channels, sorted (for tests and snapshots)."""
        return [channel_name(c) for c in sorted(self.closed)]
