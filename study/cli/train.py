"""``study train``: train one configuration and print its metrics.

Train one configuration and print its metrics record. Defaults in brackets. The options of a
regularizer named by import path are flags too.

Every ``TrainConfig`` setting is a flag of the same name (``--weight-final`` for ``weight_final``),
with the help the setting declares, and so is every option the regularizers declare
(``--sampling``, ``--order``, ``--b``...); a regularizer named by import path
(``--regularizer package.module:Class``) adds its own options. Flags left out take the defaults
(the task's, where the help says "task default"). A progress bar goes to stderr when it is a
terminal; ``--json`` prints only the record, as JSON, on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from study.cli._command import add_command
from study.cli.errors import EXIT_DIVERGED, UserError

# Settings whose default (None) is the task's own.
_TASK_DEFAULTS = ("weight", "weight_final", "method", "rtol", "atol", "epochs", "batch_size", "lr")
# Of those, the ones the task registry declares (shown per task in --help).
_SOLVER = ("method", "rtol", "atol")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from study import regularizers, tasks
    from study.nde.methods import METHODS, SDE_METHODS
    from study.train.config import TrainConfig, field_names, setting_help

    parser = add_command(subparsers, "train", __doc__, handler=run)
    defaults = TrainConfig.__dataclass_fields__
    for name in field_names():
        if name == "options":
            continue
        default = defaults[name].default
        if name in _SOLVER:
            shown = f" [{_task_default(name)}]"
        elif name in _TASK_DEFAULTS:
            shown = " [task default]"
        else:
            shown = "" if default is None else f" [{str(default).lower()}]"
        text = setting_help(name)
        if name == "task":
            text += f"; registered: {', '.join(tasks.names())}"
        elif name == "regularizer":
            text += f"; registered: {', '.join(regularizers.names())}"
        elif name == "method":
            text += f"; ODE tasks: {', '.join(METHODS)}; SDE tasks: {', '.join(SDE_METHODS)}"
        # Values stay strings here: TrainConfig validates them and names the accepted ones.
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                            metavar=name.upper(), help=text + shown)
    add_option_flags(parser, regularizers.names())
    parser.add_argument("--json", action="store_true",
                        help="print only the metrics record, as JSON, on stdout")
    parser.add_argument("--checkpoint", metavar="PATH",
                        help="save the trained model and its config here (for re-evaluation)")
    return parser


def _task_default(name: str) -> str:
    """``task default: V`` for solver setting ``name``, with the registered tasks that differ
    (``task default: dopri5; milstein for spiral-sde, digits-sde``)."""
    from study import tasks

    by_value: dict[str, list[str]] = {}
    for task in tasks.names():
        value = tasks.solver_defaults(task)[name]
        by_value.setdefault(value if isinstance(value, str) else f"{value:g}", []).append(task)
    common, *others = sorted(by_value, key=lambda v: -len(by_value[v]))
    return "; ".join([f"task default: {common}",
                      *(f"{value} for {', '.join(by_value[value])}" for value in others)])


def add_option_flags(parser: argparse.ArgumentParser, specs: Sequence[str]) -> None:
    """A flag for every option the regularizers ``specs`` declare (one flag per name; its help
    says which regularizers have it)."""
    from study import regularizers

    owners: dict[str, list[tuple[str, object]]] = {}
    for spec in specs:
        for option in regularizers.options(spec):
            owners.setdefault(option.name, []).append((spec, option))
    known = set(parser.get_default("option_names") or [])
    for name, declared in owners.items():
        if name in known:
            continue
        text = "; ".join(f"{spec}: {option.help} [{str(option.default).lower()}]"
                         for spec, option in declared)
        parser.add_argument(declared[0][1].flag, dest=name, default=None,
                            metavar=name.upper(), help=text)
        known.add(name)
    parser.set_defaults(option_names=sorted(known))


def add_user_regularizer(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """The flags of a regularizer that ``argv`` names by import path (``--regularizer
    package.module:Class``), so that they parse and ``--help`` lists them."""
    from study import regularizers

    spec = None
    for i, arg in enumerate(argv):
        if arg == "--regularizer" and i + 1 < len(argv):
            spec = argv[i + 1]
        elif arg.startswith("--regularizer="):
            spec = arg.partition("=")[2]
    if spec is None or spec in regularizers.names() or not regularizers.is_spec(spec):
        return
    try:
        add_option_flags(parser, [spec])
    except ValueError as exc:
        raise UserError(str(exc)) from None
    except argparse.ArgumentError as exc:
        raise UserError(f"regularizer {spec!r}: an option clashes with a flag of study train "
                        f"({exc})") from None


def _config(args: argparse.Namespace):
    from study.train import TrainConfig, field_names

    names = [n for n in field_names() if n != "options"] + list(args.option_names)
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    try:
        return TrainConfig.from_dict(given)
    except ValueError as exc:
        raise UserError(str(exc)) from None


class _Bar:
    """A tqdm bar on stderr, updated from ``train``'s progress reports."""

    def __init__(self, desc: str):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = None
        self.desc = desc

    def __call__(self, event) -> None:
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
    """What ran (the record's ``run``, settings that do not apply left out), a blank line, and
    the metrics (without the curves)."""
    def line(key: str, value: object) -> str:
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        return f"{key:<32}{text}"

    ran = [line(key, value) for key, value in record["run"].items() if value is not None]
    metrics = [line(key, value) for key, value in record.items() if key not in ("run", "curves")]
    return "\n".join([*ran, "", *metrics])


def run(args: argparse.Namespace) -> int:
    from study import threads
    from study.train import TrainingDiverged, train

    config = _config(args)
    threads.apply()  # torch's pool sized by what this process may use (study.threads)
    if args.checkpoint is not None:
        from study.outputs import OutputError, check_file

        try:
            check_file(args.checkpoint, "--checkpoint")
        except OutputError as exc:
            raise UserError(str(exc)) from None
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
