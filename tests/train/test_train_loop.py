"""``train`` and ``evaluate``: the metrics record, determinism, checkpoints, divergence."""

import json
import math

import pytest
import torch

from study.train import Progress, TrainConfig, TrainingDiverged, evaluate, train

TIMINGS = ("predict_seconds_per_batch", "predict_seconds_per_batch_warm", "train_seconds")
SMALL = {"task": "tests.train.tiny_tasks:small", "device": "cpu"}


def test_record_has_exactly_the_documented_keys():
    record = train({**SMALL, "regularizer": "local"})
    assert set(record) == {
        "val_accuracy", "test_accuracy", "predict_nfe", "predict_nfe_warm",
        "predict_seconds_per_batch", "predict_seconds_per_batch_warm", "train_nfe_forward",
        "train_nfe_backward", "train_seconds", "train_saved_bytes", "epochs", "curves", "run",
        "device_name",
    }
    assert record["device_name"] == "cpu"
    assert set(record["curves"]) == {"loss", "val_accuracy", "nfe", "predict_nfe",
                                     "predict_nfe_warm"}
    assert record["epochs"] == 2 and all(len(c) == 2 for c in record["curves"].values())
    assert 0 <= record["val_accuracy"] <= 1 and 0 <= record["test_accuracy"] <= 1
    json.dumps(record)
    # dopri5 costs 2 + 6 * attempts per solve; the local regularizer adds one step (7 calls)
    assert (record["predict_nfe"] - 2) % 6 == 0
    assert record["train_nfe_forward"] >= record["predict_nfe"] - 6 + 7
    assert record["train_nfe_backward"] == 0  # backpropagation calls no field


def test_record_echoes_what_ran_with_the_task_defaults_filled_in():
    record = train({**SMALL, "regularizer": "local", "weight_final": 0.5, "rtol": 1e-5})
    # tiny_tasks.small: ClassificationTask defaults (local weight 0.1), epochs 2, batch 32
    assert record["run"] == {
        "task": SMALL["task"], "regularizer": "local", "sampling": "unbiased",
        "estimate": "error", "samples": 1, "norm": "batch", "objective": "error",
        "weight": 0.1, "weight_final": 0.5,
        "method": "dopri5",
        "rtol": 1e-5, "atol": 1e-6, "adjoint": False, "warm_steps": False, "epochs": 2,
        "batch_size": 32,
        "lr": 1e-2, "seed": 0, "device": "cpu", "data_dir": None, "max_steps": 2000,
    }
    assert TrainConfig.from_dict(record["run"]).weight_final == 0.5  # it trains again as is
    vanilla = train({**SMALL, "epochs": 1})["run"]
    assert (vanilla["regularizer"], vanilla["weight"], vanilla["weight_final"]) == (
        "none", None, None)  # no penalty, no weight


def test_runs_are_deterministic_for_a_seed():
    config = {**SMALL, "regularizer": "local", "sampling": "biased", "weight": 0.5}
    a, b = train(config), train(config)
    c = train({**config, "seed": 1})
    for key in TIMINGS:
        a.pop(key), b.pop(key), c.pop(key)
    assert a == b
    assert a != c


def test_adjoint_reports_backward_nfe():
    record = train({**SMALL, "epochs": 1, "adjoint": "seminorm", "regularizer": "local"})
    assert record["train_nfe_backward"] > 0


def test_loss_task_on_the_spiral():
    record = train({"task": "spiral", "epochs": 1, "batch_size": 256, "device": "cpu"})
    assert {"val_loss", "test_loss"} <= set(record) and "val_accuracy" not in record
    assert record["val_loss"] > 0 and record["curves"]["val_loss"][0] == record["val_loss"]


def test_digits_trains_above_chance_in_one_epoch():
    record = train({"task": "digits", "epochs": 1, "device": "cpu"})
    assert record["val_accuracy"] > 0.3


def test_progress_reports_steps_and_epochs():
    events = []
    train({**SMALL, "epochs": 2, "batch_size": 32}, progress=events.append)
    assert all(isinstance(e, Progress) for e in events)
    steps = [e for e in events if e.val is None]
    epochs = [e for e in events if e.val is not None]
    assert [e.step for e in steps] == [1, 2, 3, 4] and steps[0].total_steps == 4
    assert [e.epoch for e in epochs] == [1, 2]


def test_checkpoint_is_re_evaluated_on_any_split(tmp_path):
    path = tmp_path / "model.pt"
    config = TrainConfig(**SMALL, regularizer="local")
    record = train(config, checkpoint=path)
    on_val = evaluate(config, path, split="val")
    assert on_val["val_accuracy"] == record["val_accuracy"]
    assert on_val["predict_nfe"] == record["predict_nfe"]
    assert on_val["predict_nfe_warm"] == record["predict_nfe_warm"]
    on_test = evaluate(None, path)  # the config stored in the checkpoint
    assert set(on_test) == {"test_accuracy", "predict_nfe", "predict_nfe_warm",
                            "predict_seconds_per_batch", "predict_seconds_per_batch_warm"}
    assert on_test["test_accuracy"] == record["test_accuracy"]
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        evaluate(config, path, split="dev")
    with pytest.raises(ValueError, match="does not exist"):
        evaluate(config, tmp_path / "absent.pt")


def test_step_budget_divergence_is_typed_and_says_when():
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 0.*budget of 1 steps") as info:
        train({**SMALL, "max_steps": 1})
    assert (info.value.kind, info.value.epoch, info.value.step) == ("step-budget", 1, 0)


def test_non_finite_loss_divergence():
    with pytest.raises(TrainingDiverged, match="the loss is nan") as info:
        train({**SMALL, "task": "tests.train.tiny_tasks:nan_loss"})
    assert info.value.kind == "non-finite-loss" and info.value.step == 0


def test_bad_schedule_is_a_value_error():
    with pytest.raises(ValueError, match="weight and weight_final both positive"):
        train({**SMALL, "regularizer": "local", "weight": 0, "weight_final": 1.0})


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        train({**SMALL, "device": "cuda:0"})


def test_schedule_weight_changes_training():
    base = {**SMALL, "regularizer": "local", "epochs": 1}
    light = train({**base, "weight": 1e-3})["curves"]["loss"]
    heavy = train({**base, "weight": 100.0})["curves"]["loss"]
    assert not math.isclose(light[0], heavy[0])


def test_re_evaluation_that_cannot_solve_is_a_divergence(tmp_path):
    path = tmp_path / "model.pt"
    train({**SMALL, "epochs": 1}, checkpoint=path)
    with pytest.raises(TrainingDiverged, match="prediction on test diverged") as info:
        evaluate({**SMALL, "epochs": 1, "max_steps": 1}, path)
    assert info.value.kind == "step-budget" and info.value.epoch is None


def test_warm_steps_start_each_training_solve_where_the_previous_one_proposed():
    digits = {"task": "digits", "device": "cpu", "regularizer": "local", "epochs": 1}
    cold, warm = train(digits), train({**digits, "warm_steps": True})
    # Without the initial-step heuristic (2 calls and tiny first steps) after the first batch,
    # each training solve is cheaper; NFE counts are exact, so this is deterministic.
    assert warm["train_nfe_forward"] < cold["train_nfe_forward"] - 5
    assert train({**digits, "warm_steps": True})["train_nfe_forward"] == warm["train_nfe_forward"]
    # Prediction is measured the same way either way (warm steps change training only).
    assert {"predict_nfe", "predict_nfe_warm"} <= set(warm)


def test_the_memory_figure_grows_with_backpropagation_through_the_solver_not_the_adjoint():
    digits = {"task": "digits", "device": "cpu", "regularizer": "local", "epochs": 1}
    backprop, adjoint = train(digits), train({**digits, "adjoint": True})
    # Bytes autograd saves per step: deterministic, and the adjoint keeps no solver graph.
    assert backprop["train_saved_bytes"] > 3 * adjoint["train_saved_bytes"] > 0
    assert train(digits)["train_saved_bytes"] == backprop["train_saved_bytes"]


def test_training_again_in_one_process_leaves_nothing_behind():
    # Workers train many trials in one process: a trained model's tensors must be freed.
    import gc

    def tensors():
        gc.collect()
        return sum(isinstance(o, torch.Tensor) for o in gc.get_objects())

    config = {**SMALL, "regularizer": "local", "epochs": 1}
    train(config)
    before = tensors()
    train(config)
    train(config)
    assert tensors() == before
