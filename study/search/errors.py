"""Errors of the study layer: bad experiments and unusable storages.

The command line turns ``StorageError`` into the storage exit code and any other
``SearchError`` into the usage exit code; both carry a one-line message that never contains a
password.
"""

from __future__ import annotations


class SearchError(Exception):
    """A mistake a user can act on: an unknown experiment, a bad name, a refused change."""


class ExperimentError(SearchError):
    """An experiment file or override that cannot be used (malformed, unknown names, bad ranges)."""


class StorageError(SearchError):
    """The storage is unreachable, misconfigured, or does not hold what was asked for."""
