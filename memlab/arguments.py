"""Checks of command-line values and paths, shared by the sub-commands.

Each check raises :class:`memlab.cli.UsageError` with one line naming the option, the value and
what is allowed, before any instrument or file is touched. The command line is strict on purpose:
plans and the dashboard may be friendlier, but a value typed into a script must mean one thing.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from memlab.errors import MemlabError

# Plain ASCII decimal or scientific notation: "10", "-0.5", ".5", "2.5e-3". Python's float() also
# takes "1_0", "inf", "nan" and non-ASCII digits ("١٠"); a command line must not.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
NUMBER_SYNTAX = "plain ASCII digits in decimal or scientific notation (e.g. 100, -0.5, 2.5e-3, 1e6)"
MAX_EXACT_INT = 2 ** 53
"""Integers beyond this cannot pass through a float exactly; no parameter needs them."""


class UsageError(MemlabError):
    """Bad input found by a command itself; printed as one line, exit status 2."""


def printable(text: str) -> str:
    """``text`` safe to print on any terminal: undecodable bytes (surrogate escapes from argv)
    and control characters shown as escapes instead of raising UnicodeEncodeError."""
    cleaned = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in cleaned)


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for an error message: printable, and cut when long."""
    text = printable(value)
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_text(option: str, value: str | None, *, max_chars: int = 200) -> str | None:
    """A free-text option (operator, title): valid UTF-8, printable, not absurdly long."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{option} {shown(value)}: contains bytes that are not UTF-8 text; "
                         "allowed: text in the terminal's UTF-8 encoding") from None
    if not value.strip() or not value.isprintable():
        raise UsageError(f"{option} {shown(value)}: allowed: non-empty printable text "
                         "(no control characters)")
    if len(value) > max_chars:
        raise UsageError(f"{option}: {len(value)} characters; allowed: at most {max_chars}")
    return value


def parse_number(option: str, value: str, *, integer: bool = False, allowed: str = "") -> float | int:
    """A number typed on the command line: ASCII decimal/scientific, finite, exact for integers."""
    what = allowed or ("an integer" if integer else "a number")
    text = value.strip()
    if not _NUMBER.fullmatch(text):
        raise UsageError(f"{option}={shown(value)}: not allowed: {what}, written in {NUMBER_SYNTAX}")
    number = float(text)
    if not math.isfinite(number):
        raise UsageError(f"{option}={shown(value)}: too large for a number; allowed: {what}")
    if not integer:
        return number
    if number != int(number):
        raise UsageError(f"{option}={shown(value)}: not an integer; allowed: {what}")
    if abs(number) > MAX_EXACT_INT:
        raise UsageError(f"{option}={shown(value)}: too large; allowed: {what} "
                         f"(at most 2^53 in magnitude)")
    return int(number)


def check_settings(procedure: Any, values: dict[str, str]) -> dict[str, Any]:
    """``--set`` values checked against the procedure's declared kinds: numbers strictly (see
    :func:`parse_number`), text as valid UTF-8. Bounds and choices stay the procedure's to check."""
    declared = {p.name: p for p in procedure.parameters}
    out: dict[str, Any] = {}
    for key, value in values.items():
        param = declared.get(key)
        if param is None:  # the procedure names its parameters in the error
            out[key] = value
            continue
        if value:
            check_text(f"--set {key}", value, max_chars=10_000)
        empty = value.strip().lower() in ("", "none")
        if param.kind in (int, float) and not (empty and param.optional):
            parse_number(f"--set {key}", value, integer=param.kind is int, allowed=param.allowed())
        out[key] = value  # as typed: the procedure's range error then quotes it
    return out


def check_in_path(option: str, value: str, *, folder_ok: bool = False) -> Path:
    """A file (or, with ``folder_ok``, a folder) the command will read: it must exist, and be a
    path the system can look up (no NUL, names not too long, valid in the file-name encoding)."""
    if not value or "\x00" in value:
        raise UsageError(f"{option} {shown(value)}: allowed: the path of an existing "
                         f"{'file or folder' if folder_ok else 'file'}")
    try:
        os.fsencode(value)
        path = Path(value)
        exists = path.exists()
        is_dir = path.is_dir()
    except (OSError, UnicodeError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise UsageError(f"{option} {shown(value)}: cannot be looked up ({why})") from None
    if not exists:
        text = printable(value)
        text = text if len(text) <= 300 else "..." + text[-200:]  # the end of a path says most
        raise UsageError(f"{option} {text}: no such {'file or folder' if folder_ok else 'file'}")
    if is_dir and not folder_ok:
        raise UsageError(f"{option} {shown(value)}: is a folder; allowed: a file")
    return path


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def check_out_folder(option: str, value: str) -> Path:
    """A folder the command will create or write into: refuse, with the reason, a path that is a
    file or a device, lies under a file, has a name too long for the file system, or cannot be
    written. The folder itself is not created here."""
    if not value or not value.strip():
        raise UsageError(f"{option} {value!r}: allowed: a folder path")
    if "\x00" in value:
        raise UsageError(f"{option} {shown(value)}: a path cannot contain a NUL character")
    try:
        os.fsencode(value)
    except UnicodeEncodeError:
        raise UsageError(f"{option} {shown(value)}: not a valid path on this system") from None
    path = Path(value)
    if len(os.fsencode(value)) >= 4096:
        raise UsageError(f"{option}: a path of {len(os.fsencode(value))} bytes; allowed: under 4096")
    limit = _name_max(Path.cwd())
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise UsageError(f"{option}: the name {shown(part, 40)} is {len(os.fsencode(part))} "
                             f"bytes; allowed: at most {limit} per name")
    # Walk up to the first part that exists: it must be a writable folder.
    probe = path
    while True:
        try:
            exists = probe.exists() or probe.is_symlink()
        except OSError as exc:  # ENAMETOOLONG and the like
            raise UsageError(f"{option} {shown(value)}: {exc.strerror or exc}") from None
        if exists:
            break
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.is_symlink() and not probe.exists():
        raise UsageError(f"{option} {shown(value)}: {printable(str(probe))} is a broken link")
    if not probe.is_dir():
        kind = "a file" if probe.is_file() else "not a folder (a device or special file)"
        where = "" if probe == path else f" ({printable(str(probe))} is {kind})"
        raise UsageError(f"{option} {shown(value)}: " + (f"is {kind}; allowed: a folder" if probe == path
                         else f"cannot be created under a file{where}"))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {shown(value)}: {printable(str(probe))} is not writable "
                         "(permission denied); choose a folder you can write to")
    return path
