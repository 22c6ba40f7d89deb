"""The one base class of every error memlab raises on purpose.

The command line catches :class:`MemlabError` and prints its message as one line; anything else
is a bug and shows a traceback only with ``--debug``. Light to import: storage and analysis use it
on a laptop without Qt, pyvisa or pymeasure.
"""

from __future__ import annotations


class MemlabError(Exception):
    """Base of memlab's own errors: bad input, refused limits, instrument faults, bad files."""
