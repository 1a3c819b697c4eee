"""Experiments: what one study compares, read from TOML.

An experiment file (the shipped ones are ``study/search/experiments/*.toml``)::

    description = "what this compares"
    regularizers = ["none", "local", "taynode"]   # one Optuna study each
    trials = 20         # COMPLETE trials per regularizer: every study gets the same budget
    objective = "predict_nfe_warm"   # the cost objective: predict_nfe (cold) | predict_nfe_warm
    replicates = 3      # seeds per front configuration in the report (1: no replicates)
    sampler = "tpe"     # tpe | nsga2 | gp | random
    seed = 0            # the sampler's seed
    max_failed = 20     # a study is given up after this many failed trials (default: trials)

    [report]            # hypervolume reference point (default: from vanilla's replicates)
    reference = { quality = 0.9, nfe = 40 }

    [train]             # fixed for every trial
    task = "digits"
    epochs = 10

    [search]            # searched for every regularizer
    rtol = { low = 1e-7, high = 1e-4, log = true }
    method = ["dopri5", "bosh3"]

    [search.local]      # searched for one regularizer (its keys override [search])
    weight = { low = 0.01, high = 100.0, log = true }
    sampling = ["unbiased", "biased"]

Keys of ``[train]`` and ``[search]`` are ``TrainConfig`` settings; a ``[search.<regularizer>]``
table also takes that regularizer's declared options (``sampling``, ``order``, ``b``...). A
regularizer may be a registered name or ``package.module:Class`` (its table is then
``[search."package.module:Class"]``). These keys are the Optuna parameter names and the ``study
train`` flags. A search value is a list (categorical choices), a table ``{low, high, log, step}``
(a range; an integer range for integer settings) or a plain value (fixed for that regularizer).
Every value is checked against ``TrainConfig`` before anything is written, so an impossible range
fails here and not in the middle of a study.
"""

from __future__ import annotations

import copy
import itertools
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from study import regularizers, tasks
from study.params import POSITIVE, Real
from study.search.early_stop import EARLY_STOP_CAP, EarlyStop
from study.search.errors import ExperimentError
from study.train.config import TrainConfig, field_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

EXPERIMENTS_DIR = Path(__file__).parent / "experiments"
SAMPLERS = ("tpe", "nsga2", "gp", "random")
#: The cost objectives a study may minimise: prediction NFE with the solver's own first step
#: (cold, as plain torchdiffeq deploys) or with warm-started steps. Both are recorded always.
OBJECTIVES = ("predict_nfe", "predict_nfe_warm")
DEFAULT_OBJECTIVE = "predict_nfe_warm"
DEFAULT_REPLICATES = 3

_KEYS = ("description", "regularizers", "trials", "objective", "replicates", "sampler", "seed",
         "max_failed", "max_trials", "train", "search", "report")
_RANGE_KEYS = ("low", "high", "log", "step")
# Chosen per study (regularizer) or per worker (device), never by an experiment.
_NOT_IN_TRAIN = {"regularizer": "it is chosen per study by `regularizers`",
                 "device": "each worker chooses it (study worker --device)",
                 "options": "a regularizer's options go under [search.<regularizer>]"}
_NOT_SEARCHED = {**_NOT_IN_TRAIN, "task": "an experiment has one task: put it in [train]",
                 "data_dir": "put it in [train]",
                 "seed": "replicates retrain front configurations with further seeds; fix the "
                         "search's seed in [train]"}


def _settings(excluded: Mapping[str, str]) -> list[str]:
    return [f for f in field_names() if f not in excluded]


def _integer(name: str, regularizer: str | None) -> bool:
    """Whether a range of ``name`` (a setting, or an option of ``regularizer``) is integer."""
    if name in field_names():
        return str(TrainConfig.__dataclass_fields__[name].type).startswith("int")
    return any(o.integer for o in regularizers.options(regularizer) if o.name == name)


@dataclass(frozen=True)
class Param:
    """One searched parameter: categorical ``choices``, or a ``low``..``high`` range."""

    name: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    integer: bool = False  # an integer field of TrainConfig (epochs, order, ...)

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices:
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.integer:
            return trial.suggest_int(self.name, self.low, self.high, log=self.log,
                                     step=self.step or 1)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)

    def extremes(self) -> list:
        """The values that must all be valid for the whole range to be."""
        return list(self.choices) if self.choices else [self.low, self.high]


@dataclass(frozen=True)
class Experiment:
    """A validated experiment; ``to_dict()`` is what the studies store and compare."""

    regularizers: tuple[str, ...]
    trials: int
    train: Mapping[str, Any] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)
    objective: str = DEFAULT_OBJECTIVE
    replicates: int = DEFAULT_REPLICATES
    sampler: str = "tpe"
    seed: int = 0
    max_failed: int | None = None
    max_trials: int | None = None
    description: str = ""
    reference: tuple[float, float] | None = None  # [report] reference: (quality, nfe)
    early_stop: EarlyStop | None = None  # [search] early_stop

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "experiment") -> Experiment:
        """Validate ``data`` (a parsed TOML file or a stored ``to_dict()``) completely."""
        return _validate(data, source)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able; search tables of regularizers not compared are left out."""
        search = {k: copy.deepcopy(v) for k, v in self.search.items()
                  if not regularizers.is_spec(k) or k in self.regularizers}
        return {
            "description": self.description,
            "regularizers": list(self.regularizers),
            "trials": self.trials,
            "objective": self.objective,
            "replicates": self.replicates,
            "sampler": self.sampler,
            "seed": self.seed,
            "max_failed": self.failure_limit,
            "max_trials": self.trial_limit,
            "train": dict(self.train),
            "search": {**search, **({} if self.early_stop is None
                                    else {"early_stop": self.early_stop.to_value()})},
            "report": {} if self.reference is None else {
                "reference": {"quality": self.reference[0], "nfe": self.reference[1]}},
        }

    @property
    def task(self) -> str:
        return self.train.get("task", TrainConfig.task)

    def budget(self, regularizer: str) -> int:
        """COMPLETE search trials of ``regularizer``: ``trials``, or 1 when nothing is searched
        for it (every trial would train the same configuration with the same seed)."""
        return self.trials if self.space(regularizer)[1] else 1

    @property
    def trial_limit(self) -> int:
        """Search trials a regularizer may start, pruned ones included (``max_trials``): early
        stopping cannot run a study forever. By default 1.1 times the budget with early
        stopping (a pruned trial mostly takes a COMPLETE one's slot: what saves time, measured
        by ``benchmarks/early_stop.py``), three times without (only failures are replaced)."""
        if self.max_trials is not None:
            return self.max_trials
        return round(EARLY_STOP_CAP * self.trials) if self.early_stop else 3 * self.trials

    @property
    def failure_limit(self) -> int:
        return self.trials if self.max_failed is None else self.max_failed

    @property
    def search_seed(self) -> int:
        """The training seed of every search trial (``[train] seed``, else 0)."""
        return int(self.train.get("seed", TrainConfig.seed))

    def quality(self) -> tuple[str, str]:
        """``(quality metric, direction)`` of the task, e.g. ``("val_accuracy", "maximize")``."""
        return tasks.quality(self.task)

    def replicate_seeds(self, replicates: int | None = None) -> list[int]:
        """The training seeds of a front configuration's further replicates: the first
        ``replicates - 1`` seeds other than the search's, the same for every regularizer (so
        methods are compared on the same data splits and initialisations)."""
        wanted = (self.replicates if replicates is None else replicates) - 1
        seeds = (s for s in itertools.count() if s != self.search_seed)
        return list(itertools.islice(seeds, max(0, wanted)))

    def space(self, regularizer: str) -> tuple[dict[str, Any], list[Param]]:
        """``(fixed values, searched parameters)`` for ``regularizer``."""
        entries = {k: v for k, v in self.search.items() if not regularizers.is_spec(k)}
        entries.update(self.search.get(regularizer, {}))
        fixed: dict[str, Any] = {}
        params: list[Param] = []
        for name, spec in entries.items():
            param = _param(name, spec, "", integer=_integer(name, regularizer))
            if param is None:
                fixed[name] = spec
            else:
                params.append(param)
        return fixed, params

    def config(self, regularizer: str, trial: optuna.Trial, *, device: str = "auto"
               ) -> dict[str, Any]:
        """The full ``TrainConfig`` dict of one trial; searched values are suggested on it."""
        fixed, params = self.space(regularizer)
        values = {**self.train, "regularizer": regularizer, "device": device, **fixed}
        for param in params:
            values[param.name] = param.suggest(trial)
        return TrainConfig.from_dict(values).to_dict()

    def make_sampler(self, regularizer: str, n_trials: int) -> optuna.samplers.BaseSampler:
        """The sampler for the next trial of ``regularizer``'s study.

        Seeded from the experiment's seed, the regularizer and the study's trial count, so one
        worker reproduces a study, and concurrent workers (which see different counts) do not
        all draw the same first points.
        """
        seed = zlib.crc32(f"{self.seed}:{regularizer}:{n_trials}".encode())
        if self.sampler == "tpe":
            # Optuna 5's multi-objective TPE samples each parameter on its own unless told;
            # a regularizer's study has a fixed space, so no group decomposition is needed.
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True, multivariate=True)
        if self.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed)
        if self.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)

    def with_overrides(self, *, regularizers: Sequence[str] | None = None,
                       trials: int | None = None, epochs: int | None = None,
                       replicates: int | None = None,
                       source: str = "experiment") -> Experiment:
        """This experiment with the command line's ``--regularizers/--trials/--epochs/
        --replicates``."""
        data = {**self.to_dict(), "search": copy.deepcopy(dict(self.search))}
        if regularizers is not None:
            data["regularizers"] = list(regularizers)
        if trials is not None:
            data["trials"] = trials
            if self.max_failed is None:
                data["max_failed"] = None
        if epochs is not None:
            data["train"] = {**data["train"], "epochs": epochs}
        if replicates is not None:
            data["replicates"] = replicates
        return _validate(data, source)

    def summary(self) -> str:
        return (f"task {self.task}, {len(self.regularizers)} regularizer(s) "
                f"({', '.join(self.regularizers)}), {self.trials} trial(s) each, cost "
                f"{self.objective}, {self.replicates} replicate(s) per front configuration, "
                f"{self.sampler} sampler")


def shipped() -> list[str]:
    """Names of the experiments shipped with the package (``--experiment NAME``)."""
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.toml"))


def load(*, experiment: str | None = None, config: str | Path | None = None) -> Experiment:
    """A shipped experiment by name, or the experiment file ``config``."""
    if (experiment is None) == (config is None):
        raise ExperimentError("give either a shipped experiment name or a config file")
    if experiment is not None:
        if experiment not in shipped():
            raise ExperimentError(
                f"unknown experiment {experiment!r}: shipped are {', '.join(shipped())} "
                "(or pass your own file with --config)")
        path = EXPERIMENTS_DIR / f"{experiment}.toml"
    else:
        path = Path(config)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"cannot read experiment file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{path}: malformed TOML: {exc}") from None
    return _validate(data, str(path))


def _fail(source: str, where: str, message: str) -> ExperimentError:
    return ExperimentError(f"{source}: {where}{': ' if where else ''}{message}")


def _validate(data: Mapping[str, Any], source: str) -> Experiment:
    regs = _top_level(data, source)
    trials = _count(source, "trials", data["trials"], minimum=1)
    max_failed = data.get("max_failed")
    if max_failed is not None:
        max_failed = _count(source, "max_failed", max_failed, minimum=1)
    seed = _count(source, "seed", data.get("seed", 0), minimum=0)
    sampler = data.get("sampler", "tpe")
    if sampler not in SAMPLERS:
        raise _fail(source, "sampler", f"unknown sampler {sampler!r}: accepted are "
                    f"{', '.join(SAMPLERS)}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "description", "must be a string")
    objective = data.get("objective", DEFAULT_OBJECTIVE)
    if objective not in OBJECTIVES:
        raise _fail(source, "objective", f"unknown objective {objective!r}: accepted are "
                    f"{', '.join(OBJECTIVES)}")
    replicates = _count(source, "replicates", data.get("replicates", DEFAULT_REPLICATES),
                        minimum=1)
    train = _train_table(source, data.get("train", {}))
    raw_search = data.get("search", {})
    early = None
    if isinstance(raw_search, Mapping) and "early_stop" in raw_search:
        try:
            early = EarlyStop.from_value(raw_search["early_stop"])
        except ValueError as exc:
            raise _fail(source, "[search] early_stop", str(exc)) from None
        raw_search = {k: v for k, v in raw_search.items() if k != "early_stop"}
    search = _search_table(source, raw_search, train)
    max_trials = data.get("max_trials")
    if max_trials is not None:
        max_trials = _count(source, "max_trials", max_trials, minimum=trials)
    experiment = Experiment(regularizers=tuple(regs), trials=trials, train=train, search=search,
                            objective=objective, replicates=replicates, sampler=sampler,
                            seed=seed, max_failed=max_failed, max_trials=max_trials,
                            description=description,
                            reference=_report_table(source, data.get("report", {})),
                            early_stop=early)
    for name in dict.fromkeys([*regs, *(k for k in search if regularizers.is_spec(k))]):
        _check_configs(source, experiment, name)
    try:
        experiment.quality()
    except ValueError as exc:
        raise _fail(source, "[train] task", str(exc)) from None
    return experiment


def _top_level(data: Any, source: str) -> list[str]:
    """Check the experiment's keys; its regularizers."""
    if not isinstance(data, Mapping):
        raise _fail(source, "", "an experiment must be a table")
    unknown = [k for k in data if k not in _KEYS]
    if unknown:
        raise _fail(source, "", f"unknown key(s) {', '.join(map(repr, unknown))}: accepted are "
                    f"{', '.join(_KEYS)}")
    for key in ("regularizers", "trials"):
        if key not in data:
            raise _fail(source, "", f"missing {key!r}")
    regs = data["regularizers"]
    if isinstance(regs, str) or not isinstance(regs, Sequence) or not regs:
        raise _fail(source, "regularizers", "must be a non-empty list of names")
    for name in regs:
        try:
            regularizers.resolve(name)
        except ValueError as exc:
            raise _fail(source, "regularizers", str(exc)) from None
    if len(set(regs)) != len(regs):
        raise _fail(source, "regularizers", "a regularizer is listed twice")
    return list(regs)


def _report_table(source: str, table: Any) -> tuple[float, float] | None:
    if not isinstance(table, Mapping) or set(table) - {"reference"}:
        raise _fail(source, "[report]", "a table with an optional reference = { quality = ..., "
                    "nfe = ... }")
    if "reference" not in table:
        return None
    reference = table["reference"]
    if not isinstance(reference, Mapping) or set(reference) != {"quality", "nfe"}:
        raise _fail(source, "[report] reference", "must be { quality = ..., nfe = ... }")
    try:
        return (Real().check("quality", reference["quality"]),
                POSITIVE.check("nfe", reference["nfe"]))
    except ValueError as exc:
        raise _fail(source, "[report] reference", str(exc)) from None


def _count(source: str, key: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(source, key, f"must be an integer of at least {minimum}, got {value!r}")
    return value


def _train_table(source: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise _fail(source, "[train]", "must be a table")
    for key in table:
        if key in _NOT_IN_TRAIN:
            raise _fail(source, f"[train] {key}", f"not allowed: {_NOT_IN_TRAIN[key]}")
        if key not in field_names():
            owners = _owners(key)
            hint = (f"an option of {', '.join(owners)}: put it under [search.{owners[0]}]"
                    if owners else "not a training setting: accepted are "
                    f"{', '.join(_settings(_NOT_IN_TRAIN))}")
            raise _fail(source, f"[train] {key}", hint)
    return dict(table)


def _owners(name: str) -> list[str]:
    """The registered regularizers that declare option ``name``."""
    return [r for r in regularizers.names() if name in regularizers.option_names(r)]


def _search_table(source: str, table: Any, train: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise _fail(source, "[search]", "must be a table")
    search: dict[str, Any] = {}
    for key, value in table.items():
        if regularizers.is_spec(key):
            where = f'[search."{key}"]' if ":" in key else f"[search.{key}]"
            if not isinstance(value, Mapping):
                raise _fail(source, where, "must be a table")
            try:
                regularizers.resolve(key)
            except ValueError as exc:
                raise _fail(source, where, str(exc)) from None
            for name, spec in value.items():
                _check_key(source, f"{where} {name}", name, key, train)
                _param(name, spec, f"{source}: {where} {name}", integer=_integer(name, key))
            search[key] = copy.deepcopy(dict(value))
        else:
            _check_key(source, f"[search] {key}", key, None, train)
            _param(key, value, f"{source}: [search] {key}", integer=_integer(key, None))
            search[key] = copy.deepcopy(value)
    return search


def _check_key(source: str, where: str, name: str, regularizer: str | None,
               train: Mapping[str, Any]) -> None:
    if name in _NOT_SEARCHED:
        raise _fail(source, where, f"not allowed: {_NOT_SEARCHED[name]}")
    options = regularizers.option_names(regularizer) if regularizer is not None else []
    if name not in field_names() and name not in options:
        owners = _owners(name)
        if regularizer is None and owners:
            raise _fail(source, where, f"an option of {', '.join(owners)} only: put it under "
                        f"[search.{owners[0]}]")
        if regularizer is not None:
            elsewhere = f"; {name} is an option of {', '.join(owners)}" if owners else ""
            raise _fail(source, where, f"not an option of regularizer {regularizer!r} (its "
                        f"options: {', '.join(options) or 'none'}{elsewhere}) nor a training "
                        f"setting ({', '.join(_settings(_NOT_SEARCHED))})")
        raise _fail(source, where, "neither a training setting nor a regularizer: settings are "
                    f"{', '.join(_settings(_NOT_SEARCHED))}; regularizers are "
                    f"{', '.join(regularizers.names())} or package.module:Class")
    if name in train:
        raise _fail(source, where, "is also fixed in [train]: keep one of them")
    if name in ("weight", "weight_final") and regularizer is not None \
            and not regularizers.resolve(regularizer).penalised:
        raise _fail(source, where, f"regularizer {regularizer!r} has no penalty weight")


def _param(name: str, spec: Any, where: str, *, integer: bool) -> Param | None:
    """The parameter ``spec`` describes, or ``None`` for a fixed value."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ExperimentError(f"{where}: an empty list of choices")
        for choice in spec:
            if not isinstance(choice, (str, int, float, bool)):
                raise ExperimentError(f"{where}: choice {choice!r} is not a string, number or "
                                      "boolean")
        if len({(type(c), c) for c in spec}) != len(spec):
            raise ExperimentError(f"{where}: a choice is listed twice")
        return Param(name, choices=tuple(spec))
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in _RANGE_KEYS]
        if unknown or "low" not in spec or "high" not in spec:
            raise ExperimentError(f"{where}: a range is {{low = ..., high = ...}} with optional "
                                  "log = true or step = ...")
        low, high, log, step = (spec.get(k) for k in _RANGE_KEYS)
        for key, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, float))):
                raise ExperimentError(f"{where}: {key} must be a number, got {value!r}")
        log = False if log is None else log
        if not isinstance(log, bool):
            raise ExperimentError(f"{where}: log must be true or false")
        if integer and not all(float(v).is_integer() for v in (low, high, step or 1)):
            raise ExperimentError(f"{where}: {name} is an integer: low, high and step must be "
                                  "integers")
        if not low < high:
            raise ExperimentError(f"{where}: impossible range: low {low!r} must be below "
                                  f"high {high!r}")
        if log and low <= 0:
            raise ExperimentError(f"{where}: impossible log-scale range: low {low!r} must be "
                                  "positive")
        if step is not None and (step <= 0 or log):
            raise ExperimentError(f"{where}: step must be positive and cannot be combined "
                                  "with log")
        if integer:
            low, high, step = int(low), int(high), None if step is None else int(step)
        return Param(name, low=low, high=high, log=log, step=step, integer=integer)
    if isinstance(spec, (str, int, float, bool)):
        return None
    raise ExperimentError(f"{where}: {spec!r} is neither choices, a range nor a value")


def _check_configs(source: str, experiment: Experiment, regularizer: str) -> None:
    """Every extreme of every parameter must make a valid ``TrainConfig``."""
    fixed, params = experiment.space(regularizer)
    base = {**experiment.train, "regularizer": regularizer, **fixed}
    base.update({p.name: p.extremes()[0] for p in params})
    where = f"[search.{regularizer}]" if regularizer in experiment.search else "[search]"
    _check_config(source, f"regularizer {regularizer!r}", base)
    for param in params:
        for value in param.extremes():
            _check_config(source, f"{where} {param.name} = {value!r}",
                          {**base, param.name: value})


def _check_config(source: str, where: str, values: dict[str, Any]) -> None:
    try:
        TrainConfig.from_dict(values)
    except (ValueError, TypeError) as exc:
        raise _fail(source, where, str(exc)) from None
