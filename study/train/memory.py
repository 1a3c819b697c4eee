"""A deterministic memory figure of training: the bytes of the tensors autograd saves in the
forward pass of an optimisation step for its backward pass.

This is what grows with the number of solver steps when gradients backpropagate through the
solver (every stage of every step is kept), and what the continuous adjoint keeps constant (its
forward solve keeps no graph). It counts ``numel * element_size`` of every tensor autograd saves
(through ``torch.autograd.graph.saved_tensors_hooks``), so it depends on the model and the NFE
only, not on the allocator or the machine; tensors saved twice count twice. On CUDA the peak
allocated memory is measured too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class SavedBytes:
    """The largest number of bytes one optimisation step saved for backward (``peak``)."""

    def __init__(self) -> None:
        self.peak = 0
        self._step = 0

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        self._step += tensor.numel() * tensor.element_size()
        # Not the tensor itself: an operation's saved output holding its own graph would be a
        # reference cycle through C++ that Python's collector never frees.
        return tensor.detach()

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Count what the forward pass inside the block saves."""
        self._step = 0
        with torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor):
            yield
        self.peak = max(self.peak, self._step)


def peak_cuda_bytes(device: torch.device) -> int | None:
    """Peak CUDA memory allocated on ``device`` so far; ``None`` off CUDA."""
    if device.type != "cuda":
        return None
    return int(torch.cuda.max_memory_allocated(device))
