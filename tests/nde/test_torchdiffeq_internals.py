"""Pins the torchdiffeq 0.2.5 internals that study.nde._torchdiffeq relies on."""

import torch
import torchdiffeq
from torchdiffeq._impl.odeint import SOLVERS

from study.nde import METHODS, _torchdiffeq
from study.nde.recorder import StepRecorder
from tests.nde.fields import MLPField


def test_pinned_version_and_registered_recording_solvers():
    assert torchdiffeq.__version__ == "0.2.5"
    for method in METHODS:
        recording = SOLVERS[_torchdiffeq.recording_method(method)]
        assert issubclass(recording, SOLVERS[method])


def test_tableaus_are_consistent_embedded_pairs():
    for method in METHODS:
        tab = _torchdiffeq.tableau(method)
        assert len(tab.a) == len(tab.c) and len(tab.b) == len(tab.e) == len(tab.c) + 1
        for c_i, row in zip(tab.c, tab.a):  # row sums equal the nodes
            assert torch.isclose(row.sum(), c_i)
        assert torch.isclose(tab.b.sum(), torch.tensor(1.0, dtype=torch.float64))
        assert abs(float(tab.e.sum())) < 1e-12  # both solutions are consistent


def test_recorder_sees_every_attempt_and_the_dense_output_of_the_selected_step():
    field = MLPField(scale=3.0).double()
    y0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    recorder = StepRecorder(selector=lambda a, b: (0,))  # slot 0: the last accepted step
    ys = torchdiffeq.odeint(field, y0, t, rtol=1e-7, atol=1e-7,
                            method=_torchdiffeq.recording_method("dopri5"),
                            options={"recorder": recorder})
    assert recorder.first_step is not None and recorder.first_proposal is not None
    last = recorder.selected[0]
    assert float(last.t0.detach()) == recorder.step_starts[-1]
    end = _torchdiffeq.interpolate(last, last.t1)
    inside = _torchdiffeq.interpolate(last, t[-1])
    assert torch.allclose(inside, ys[-1])
    assert torch.isfinite(end).all()
