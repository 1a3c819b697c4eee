"""The SDE tasks: registry, solver defaults, data, and one short training run each."""

import pytest
import torch

from study import tasks
from study.nde import SDE_METHODS
from study.tasks.spiral_sde import U0, generate, moment_mse
from study.train import TrainConfig, train


def test_registered_with_their_objective_and_sde_solver():
    assert {"spiral-sde", "digits-sde"} <= set(tasks.names())
    assert tasks.quality("spiral-sde") == ("val_loss", "minimize")
    assert tasks.quality("digits-sde") == ("val_accuracy", "maximize")
    for name in ("spiral-sde", "digits-sde"):
        config = TrainConfig(task=name)
        assert config.method in SDE_METHODS
        assert (config.rtol, config.atol) == (tasks.solver_defaults(name)["rtol"],
                                              tasks.solver_defaults(name)["atol"])
    assert TrainConfig(task="digits").method == "dopri5"


def test_configurations_an_sde_solve_cannot_run_are_refused():
    with pytest.raises(ValueError, match="does not work on SDE solves"):
        TrainConfig(task="spiral-sde", regularizer="taynode")
    with pytest.raises(ValueError, match="continuous adjoint"):
        TrainConfig(task="spiral-sde", regularizer="global-error", adjoint=True)
    with pytest.raises(ValueError, match="True or False for SDE solves"):
        TrainConfig(task="spiral-sde", adjoint="seminorm")
    with pytest.raises(ValueError, match="estimate='error'"):
        TrainConfig(task="digits-sde", regularizer="local", estimate="stiffness")


def test_spiral_data_is_deterministic_and_starts_at_u0():
    times, paths = generate(64)
    again = generate(64)[1]
    assert times.shape == (30,) and paths.shape == (64, 30, 2)
    assert torch.equal(paths, again)
    assert torch.equal(paths[:, 0], torch.tensor([U0]).expand(64, 2))
    assert paths[:, -1].var(dim=0).min() > 0.01  # the noise spreads the paths
    assert float(moment_mse(paths, paths)) == 0.0


@pytest.mark.parametrize("task", ["spiral-sde", "digits-sde"])
def test_one_epoch_of_training_with_the_local_regularizer(task):
    torch.manual_seed(0)
    record = train({"task": task, "regularizer": "local", "epochs": 1, "device": "cpu"})
    quality = tasks.quality(task)[0]
    assert record[quality] == record[quality]  # finite
    # each batch: the forward solve plus the regularizer's three steps (one drift and one
    # diffusion call each with Milstein)
    assert record["train_nfe_forward"] > record["predict_nfe"] / 2 + 6
    assert record["predict_nfe"] > 0 and record["train_nfe_backward"] == 0
