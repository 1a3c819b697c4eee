"""Importing by name: objects named by import path, and packages that import their parts lazily.

Users bring their own tasks and regularizers as ``package.module:attribute``: the module is
imported like ``python -m`` would (the current directory is searched too); every failure is one
``ValueError`` line. ``lazy_exports`` lets a package re-export names from heavy submodules (those
that import torch) without importing them until a name is used."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from study.debug import describe

_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def is_path(spec: Any) -> bool:
    """Whether ``spec`` has the form ``package.module:attribute``."""
    return isinstance(spec, str) and bool(_PATH.match(spec))


def _import(module_name: str, label: str):
    try:
        return _import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"{label}: cannot import module {module_name!r} ({exc})") from None
    except Exception as exc:  # the module itself failed: one line, its cause for --debug
        raise ValueError(f"{label}: importing module {module_name!r} raised "
                         f"{describe(exc)}") from exc


def _import_module(module_name: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Like `python -m`, look in the current directory too (console scripts do not).
        cwd = os.getcwd()
        if exc.name != module_name.split(".")[0] or cwd in sys.path:
            raise
    sys.path.append(cwd)
    return importlib.import_module(module_name)


def load(path: str, *, label: str) -> Any:
    """The object ``path`` (``package.module:attribute``) names; ``label`` starts every error
    (e.g. ``"task 'mypkg.mod:make'"``)."""
    module_name, _, attr = path.partition(":")
    module = _import(module_name, label)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{label}: module {module_name!r} has no {attr!r}") from None


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` (PEP 562) for ``package``, whose public names ``exports``
    maps to the submodules that define them (``{"NeuralODE": "ode"}``). A submodule is imported
    when one of its names is first used, so that importing a light part of a package (a
    declaration, a registry, a check) does not import torch with the rest."""
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(module, name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *exports})

    return __getattr__, __dir__
