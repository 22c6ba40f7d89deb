"""Verified-off safe shutdown: switch every output off, then ask each instrument whether it is.

A write to an instrument that stopped answering is lost without an error (VISA writes do not
wait for a reply), so "every shutdown command went out" proves nothing. After an instrument's
shutdown its output state is queried; an output that reports on is switched off once more and
queried again. An output that still reports on, or one whose state cannot be read, is a
*safety failure*: the caller must record it loudly (run file, log, exit status, campaign
notify), because on hardware a source or a laser may still be live.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("memlab.safety")

SAFETY_FAILURE = "SAFETY FAILURE"

#: how a driver reports its output state, in the order tried: a method or a pymeasure property
#: (reading either queries the instrument)
_STATE_NAMES = ("output_enabled", "output", "enabled")


class ShutdownReport(list):
    """The problems of a safe shutdown as text (a plain ``list[str]``: empty means all safe),
    with the subset that are safety failures (an output on, or not verified off) in
    :attr:`safety_failures`."""

    def __init__(self, problems: Iterable[str] = (), safety_failures: Iterable[str] = ()) -> None:
        super().__init__(problems)
        self.safety_failures: list[str] = list(safety_failures)


def _name(role: str, driver: Any) -> str:
    try:
        return str(driver.label())
    except Exception:  # noqa: BLE001 - a label must never stop a shutdown
        return role


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        text = value.strip().upper()
        if text in ("1", "ON", "TRUE"):
            return True
        if text in ("0", "OFF", "FALSE"):
            return False
        raise ValueError(f"unexpected output state {value!r}")
    if isinstance(value, (bool, int, float)):
        return bool(value)
    raise ValueError(f"unexpected output state {value!r}")


_MISSING = object()


@functools.cache  # every run's shutdown asks, and a class's declarations do not change
def _declared(cls: type, name: str) -> Any:
    return inspect.getattr_static(cls, name, _MISSING)


def output_state_reader(driver: Any) -> Any | None:
    """A callable that queries ``driver``'s output state, or None if the driver has no output."""
    own = getattr(driver, "__dict__", {})
    for name in _STATE_NAMES:
        static = own[name] if name in own else _declared(type(driver), name)
        if static is _MISSING:
            continue
        if isinstance(static, (bool, int)):  # a plain attribute: the driver's memory, not a query
            continue
        if callable(static) and not isinstance(static, property):
            return getattr(driver, name)
        return lambda name=name: getattr(driver, name)  # a property: reading it queries
    return None


def output_is_on(driver: Any) -> bool:
    """Ask the instrument whether its output is on; raises if it cannot tell."""
    reader = output_state_reader(driver)
    if reader is None:
        raise ValueError("the driver offers no way to read its output state")
    return _as_bool(reader())


def verify_off(role: str, driver: Any) -> str | None:
    """None once the instrument reports its output off; else the safety failure as text."""
    if output_state_reader(driver) is None:
        return None
    name = _name(role, driver)
    try:
        if not output_is_on(driver):
            return None
        log.error("%s: output still on after shutdown; switching it off again", name)
        driver.output_off()
        if not output_is_on(driver):
            return None
        reason = "the instrument reports its output still on"
    except Exception as exc:  # noqa: BLE001 - any failure to read back is a failure to verify
        reason = f"{type(exc).__name__}: {exc}"
    return f"{SAFETY_FAILURE}: {role}: could not verify output off on {name} ({reason})"


def shutdown_and_verify(drivers: Mapping[str, Any], order: Iterable[str]) -> ShutdownReport:
    """Shut each instrument down in ``order`` (light and outputs first, relays last), then
    verify its output off. One failing instrument never keeps the others on."""
    problems: list[str] = []
    unsafe: list[str] = []
    for role in order:
        driver = drivers.get(role)
        if driver is None:
            continue
        try:
            driver.shutdown()
        except Exception as exc:  # noqa: BLE001 - keep switching the rest off
            log.error("safe shutdown of %s failed: %s", role, exc)
            problems.append(f"{role}: {exc}")
        failure = verify_off(role, driver)
        if failure is not None:
            log.critical("%s", failure)
            problems.append(failure)
            unsafe.append(failure)
    return ShutdownReport(problems, unsafe)
