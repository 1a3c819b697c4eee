"""Shared test settings (small, deterministic, single-threaded torch) and fixtures."""

import pytest
import torch
from torchsde._core import adaptive_stepping

torch.set_num_threads(1)

# The small real experiment that the report and command-line tests read.
pytest_plugins = ["tests.small_study"]


@pytest.fixture
def estimates(monkeypatch):
    """The error estimates torchsde's adaptive loop computes, in order (SDE tests)."""
    seen = []
    compute = adaptive_stepping.compute_error

    def spy(*args, **kwargs):
        seen.append(compute(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(adaptive_stepping, "compute_error", spy)
    return seen
