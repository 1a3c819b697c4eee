"""``study train``: train one configuration and print its metrics record.

Every ``TrainConfig`` field is a flag of the same name (``--weight-final`` for ``weight_final``);
flags left out take the config's defaults (the task's, where the default is ``None``). A progress
bar goes to stderr when it is a terminal; ``--json`` prints only the record, as JSON, on stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from study import regularizers, tasks
from study.cli.errors import EXIT_DIVERGED, UserError
from study.nde import METHODS, SDE_METHODS
from study.train import Progress, TrainConfig, TrainingDiverged, field_names, train

_HELP = {
    "task": f"a registered task ({', '.join(tasks.names())}) or package.module:function, "
    "a function of the seed returning a study.tasks.Task",
    "regularizer": f"one of {', '.join(regularizers.names())}",
    "sampling": f"local regularizer: {' or '.join(regularizers.SAMPLINGS)}",
    "estimate": f"local regularizer: {' or '.join(regularizers.ESTIMATES)}",
    "order": f"taynode: derivative order, {' or '.join(map(str, regularizers.ORDERS))}",
    "kinetic": "rnode: weight of the kinetic energy",
    "jacobian": "rnode: weight of the Jacobian Frobenius norm",
    "b": "steer: end times are drawn from [t1 - b, t1 + b]",
    "weight": "penalty weight (default: the task's for the regularizer)",
    "weight_final": "decay the weight exponentially to this over training",
    "method": f"adaptive solver, ODE tasks: {', '.join(METHODS)}; SDE tasks: "
    f"{', '.join(SDE_METHODS)} (default: the task's)",
    "rtol": "relative tolerance (default: the task's)",
    "atol": "absolute tolerance (default: the task's)",
    "adjoint": "gradients: false (backpropagation), true (continuous adjoint) or seminorm",
    "epochs": "training epochs (default: the task's)",
    "batch_size": "batch size, also for prediction (default: the task's)",
    "lr": "Adam learning rate (default: the task's)",
    "seed": "seed of the data split, initialisation and training",
    "device": "auto, cpu, cuda or cuda:N (auto: CUDA when available)",
    "data_dir": "directory of the task's data files (mnist: the IDX files)",
    "max_steps": "solver step budget per solve; exceeding it means the run diverged",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train one configuration and print its metrics",
        description="Train one configuration and print its metrics record. Defaults in brackets.",
    )
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        default = getattr(defaults, field.name)
        shown = "" if default is None else f" [{str(default).lower()}]"
        # Values stay strings here: TrainConfig validates them and names the accepted ones.
        parser.add_argument(
            "--" + field.name.replace("_", "-"), dest=field.name, default=None,
            metavar=field.name.upper(), help=_HELP[field.name] + shown,
        )
    parser.add_argument("--json", action="store_true",
                        help="print only the metrics record, as JSON, on stdout")
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="save the trained model and its config here (for re-evaluation)")
    parser.set_defaults(handler=run)


def _config(args: argparse.Namespace) -> TrainConfig:
    given = {name: getattr(args, name) for name in field_names()}
    try:
        return TrainConfig.from_dict({k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise UserError(str(exc)) from None


class _Bar:
    """A tqdm bar on stderr, updated from ``train``'s progress reports."""

    def __init__(self, desc: str):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = None
        self.desc = desc

    def __call__(self, event: Progress) -> None:
        if self.bar is None:
            self.bar = self._tqdm(total=event.total_steps, desc=self.desc, unit="step",
                                  file=sys.stderr, leave=False)
        if event.val is None:
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix(epoch=f"{event.epoch}/{event.epochs}", loss=f"{event.loss:.4g}",
                                 nfe=event.nfe, refresh=False)
        else:
            self.bar.write(f"epoch {event.epoch}/{event.epochs}: loss {event.loss:.4g}, "
                           f"val {event.val:.4g}, nfe {event.nfe}", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _summary(record: dict) -> str:
    lines = []
    for key, value in record.items():
        if key == "curves":
            continue
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<32}{text}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.checkpoint is not None and not Path(args.checkpoint).parent.is_dir():
        raise UserError(f"--checkpoint: directory {str(Path(args.checkpoint).parent)!r} "
                        "does not exist")
    bar = _Bar(f"{config.task} {config.regularizer}") if sys.stderr.isatty() else None
    try:
        record = train(config, progress=bar, checkpoint=args.checkpoint)
    except TrainingDiverged as exc:
        raise UserError(str(exc), EXIT_DIVERGED) from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    print(json.dumps(record) if args.json else _summary(record))
    return 0
