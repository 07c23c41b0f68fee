"""Errors a user can cause with bad suite data: one clear line, no traceback."""

from __future__ import annotations


class SuiteError(ValueError):
    """A suite folder or record that is not in SArena layout; the message names the file and line."""
