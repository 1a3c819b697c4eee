"""``vowels``: a latent ODE on real, irregular multichannel time series (JapaneseVowels).

Data: the JapaneseVowels set as it ships inside the ``aeon`` package (the optional extra
``study[vowels]``; ``make install`` includes it): 640 utterances of 12 LPC cepstrum channels,
7 to 29 frames each (unequal lengths), 270 in aeon's train file and 370 in its test file. They are
read from the package's own ``.ts`` files with aeon's ``load_from_ts_file``: nothing is
downloaded. Loading the task without aeon raises a ``ValueError`` naming the extra; importing
``study.tasks`` (or this module) never imports aeon.

Time grid: one shared grid for all utterances, frame ``k`` at time ``t_k = k`` (``k = 0 .. 28``,
``MAX_FRAMES = 29``), so every gap is 1 and STEER's default ``b = 0.5`` (any ``b < 1``) is valid.
Shorter utterances are padded with zeros after their last frame; padded frames are never seen by
the encoder and never count in the loss. A batch is solved over the grid up to its longest
utterance's last frame (``t_0 .. t_{L-1}``), so the solve's end time is always a target and
nothing is integrated past the batch's data.

Targets, fixed once for the pool by ``MASK_SEED`` (the same for every run and seed): of an
utterance of ``L`` frames the last ``ceil(L / 5)`` (20-29 %) are *extrapolation* targets, never
seen by the encoder; of the remaining observation window a random ``floor`` half of the frames are
*interpolation* targets and the other half (at least one frame) is what the encoder sees. Loss
and quality ("loss", minimised): per utterance, the MSE over its target frames and the 12
channels, averaged over utterances. Channels are standardised with the mean and standard
deviation of the seed's training utterances (all their real frames).

Splits: aeon's 370 test utterances are the test split for every seed; the seed divides aeon's 270
training utterances 80/20 into train (216) and val (54) like ``split_indices``.

Model, the Physionet latent ODE of Rubanova et al. (2019) scaled down for a CPU: a GRU
(``rnn`` units) reads the observed frames backwards in time (values, mask, time / 28) and gives
the initial latent state ``z0``; an autonomous latent ODE (one-hidden-layer tanh MLP,
``latent`` -> ``hidden`` -> ``latent``) is solved over the grid; an MLP decoder maps each latent
state to the 12 channels.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from study.nde import NeuralODE
from study.tasks.base import Defaults, SolverSettings, Task, TaskModel, split_indices
from study.tasks.fields import TimeMLP

CHANNELS = 12
MAX_FRAMES = 29
N_TRAIN_FILE = 270
N_TEST_FILE = 370
EXTRAP_FRACTION = 0.2
MASK_SEED = 11
MISSING_AEON = (
    "the vowels task needs the optional package aeon: pip install 'study[vowels]' "
    "(make install includes it)"
)

# How these were picked (single seeds, then the replicated vowels-1e-6 study and six seeds of
# vowels_weights.py for local): benchmarks/results/vowels-defaults.md.
DEFAULTS = Defaults(
    epochs=30,
    batch_size=16,
    lr=5e-3,
    weights={
        "local": 0.01,
        "global-error": 0.003,
        "global-stiffness": 0.01,
        "taynode": 0.1,
        "rnode": 0.1,
    },
)


def _data_files() -> tuple[Path, Path]:
    try:
        import aeon.datasets
    except ImportError:
        raise ValueError(MISSING_AEON) from None
    folder = Path(os.path.dirname(aeon.datasets.__file__)) / "data" / "JapaneseVowels"
    files = (folder / "JapaneseVowels_TRAIN.ts", folder / "JapaneseVowels_TEST.ts")
    for file in files:
        if not file.is_file():
            raise ValueError(
                f"the vowels task reads {file}, which this aeon installation lacks "
                f"(aeon {getattr(aeon, '__version__', '?')}): reinstall 'study[vowels]'"
            )
    return files


@functools.lru_cache(maxsize=1)
def load_utterances() -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """``(train, test)``: aeon's training and test utterances, each an ``(L, 12)`` float array,
    read from the ``.ts`` files inside the installed aeon package (never downloaded)."""
    files = _data_files()
    from aeon.datasets import load_from_ts_file

    splits = []
    for file in files:
        series, _ = load_from_ts_file(str(file))  # a list of (12, L) arrays: unequal lengths
        splits.append(tuple(np.asarray(s, dtype=np.float64).T.copy() for s in series))
    return splits[0], splits[1]


def frame_masks(lengths: np.ndarray, *, seed: int = MASK_SEED,
                frames: int = MAX_FRAMES) -> dict[str, np.ndarray]:
    """``{"valid", "observed", "interp", "extrap"}``: ``(n, frames)`` boolean masks for utterances
    of ``lengths``: real frames, what the encoder sees, and the two kinds of target (see the
    module docstring). Deterministic for ``seed``; the four are disjoint except ``valid``, which
    is the union of the other three."""
    rng = np.random.default_rng(seed)
    n = len(lengths)
    masks = {name: np.zeros((n, frames), dtype=bool)
             for name in ("valid", "observed", "interp", "extrap")}
    for i, length in enumerate(int(x) for x in lengths):
        n_extrap = math.ceil(EXTRAP_FRACTION * length)
        window = length - n_extrap
        hidden = rng.permutation(window)[: window // 2]
        masks["valid"][i, :length] = True
        masks["extrap"][i, window:length] = True
        masks["interp"][i, hidden] = True
        masks["observed"][i, :window] = ~masks["interp"][i, :window]
    return masks


def pool() -> dict[str, np.ndarray]:
    """All 640 utterances (aeon's train file first), padded: ``values`` ``(640, 29, 12)`` (raw,
    zero after each utterance's end), ``lengths`` ``(640,)``, ``in_test_file`` ``(640,)`` and the
    masks of ``frame_masks``."""
    train, test = load_utterances()
    utterances = train + test
    lengths = np.array([len(u) for u in utterances])
    values = np.zeros((len(utterances), MAX_FRAMES, CHANNELS))
    for i, u in enumerate(utterances):
        values[i, : len(u)] = u
    return {
        "values": values,
        "lengths": lengths,
        "in_test_file": np.arange(len(utterances)) >= len(train),
        **frame_masks(lengths),
    }


class VowelsLatentODE(TaskModel):
    """GRU encoder (backwards over the observed frames) -> latent ODE -> MLP decoder.

    ``forward((values, observed, lengths))`` returns ``(batch, L, 12)``: the decoded states at
    ``t_0 .. t_{L-1}``, ``L`` the batch's longest utterance.
    """

    def __init__(self, times: torch.Tensor, *, latent: int, hidden: int, rnn: int,
                 solver: SolverSettings):
        super().__init__()
        self.register_buffer("times", times.clone())
        self.gru = nn.GRUCell(CHANNELS + 2, rnn)
        self.to_latent = nn.Linear(rnn, latent)
        self.block = NeuralODE(TimeMLP(latent, hidden, time=False),
                               t_span=(float(times[0]), float(times[-1])), **solver.ode_kwargs())
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(),
                                     nn.Linear(hidden, CHANNELS))

    def encode(self, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        h = values.new_zeros(len(values), self.gru.hidden_size)
        mask = observed.to(values.dtype).unsqueeze(-1)
        scale = self.times[-1]
        for i in reversed(range(int(observed.any(dim=0).nonzero().max()) + 1)):
            step = torch.cat(
                [values[:, i] * mask[:, i], mask[:, i],
                 (self.times[i] / scale).expand(len(values), 1)],
                dim=-1,
            )
            # Frames the encoder does not see leave the hidden state as it was.
            h = mask[:, i] * self.gru(step, h) + (1 - mask[:, i]) * h
        return self.to_latent(h)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        values, observed, lengths = inputs
        z0 = self.encode(values, observed)
        grid = self.times[: int(lengths.max())].to(z0.dtype)
        zs = self.block(z0, grid)  # (L, batch, latent)
        return self.decoder(zs).transpose(0, 1)  # (batch, L, 12)


def per_utterance_mse(output: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor]
                      ) -> torch.Tensor:
    """``(batch,)``: each utterance's MSE over its target frames and the channels."""
    values, mask = targets
    frames = output.shape[1]
    values, mask = values[:, :frames], mask[:, :frames].to(output.dtype)
    squared = (output - values).pow(2).mean(dim=-1)
    return (squared * mask).sum(dim=1) / mask.sum(dim=1)


class Vowels(Task, registered="vowels"):
    def __init__(self, *, seed: int, latent: int = 16, hidden: int = 64, rnn: int = 32,
                 defaults: Defaults = DEFAULTS):
        data = pool()
        in_file = np.flatnonzero(~data["in_test_file"])
        idx = split_indices(len(in_file), seed=seed, val_fraction=0.2)
        idx = {"train": in_file[idx["train"]], "val": in_file[idx["val"]],
               "test": np.flatnonzero(data["in_test_file"])}
        train_frames = data["values"][idx["train"]][data["valid"][idx["train"]]]
        self.mean, self.std = train_frames.mean(axis=0), train_frames.std(axis=0)
        values = (data["values"] - self.mean) / self.std * data["valid"][..., None]

        def tensor(array, dtype=None):
            return torch.as_tensor(array, dtype=dtype)

        values = tensor(values, torch.float32)
        observed = tensor(data["observed"])
        target = tensor(data["interp"] | data["extrap"])
        lengths = tensor(data["lengths"], torch.long)
        splits = {}
        for split, i in idx.items():
            i = torch.as_tensor(i)
            # Inputs hide every frame the encoder may not see; targets are the standardised
            # values and the mask of the frames the loss counts.
            inputs = (values[i] * observed[i].unsqueeze(-1), observed[i], lengths[i])
            splits[split] = (inputs, (values[i], target[i]))
        super().__init__(name="vowels", splits=splits, defaults=defaults)
        self.indices = idx
        self.masks = {name: data[name] for name in ("valid", "observed", "interp", "extrap")}
        self.times = torch.arange(MAX_FRAMES, dtype=torch.float32)
        self.latent, self.hidden, self.rnn = latent, hidden, rnn

    @classmethod
    def load(cls, *, seed: int, data_dir: str | Path | None = None) -> Vowels:
        return cls(seed=seed)

    def build_model(self, solver: SolverSettings) -> VowelsLatentODE:
        return VowelsLatentODE(self.times, latent=self.latent, hidden=self.hidden, rnn=self.rnn,
                               solver=solver)

    def loss(self, output: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor]
             ) -> torch.Tensor:
        return per_utterance_mse(output, targets).mean()

    def score(self, output: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor]) -> float:
        return float(per_utterance_mse(output, targets).sum())
