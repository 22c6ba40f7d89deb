"""Imports every built-in procedure module so each registers itself."""

from procedures import clock_check  # noqa: F401
