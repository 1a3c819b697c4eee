"""Objects named by import path, ``package.module:attribute``: users bring their own tasks and
regularizers this way. The module is imported like ``python -m`` would (the current directory is
searched too); every failure is one ``ValueError`` line."""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any

_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")


def is_path(spec: Any) -> bool:
    """Whether ``spec`` has the form ``package.module:attribute``."""
    return isinstance(spec, str) and bool(_PATH.match(spec))


def _import(module_name: str, label: str):
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Like `python -m`, look in the current directory too (console scripts do not).
        cwd = os.getcwd()
        if exc.name == module_name.split(".")[0] and cwd not in sys.path:
            sys.path.append(cwd)
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError:
                pass
        raise ValueError(f"{label}: cannot import module {module_name!r} ({exc})") from None


def load(path: str, *, label: str) -> Any:
    """The object ``path`` (``package.module:attribute``) names; ``label`` starts every error
    (e.g. ``"task 'mypkg.mod:make'"``)."""
    module_name, _, attr = path.partition(":")
    module = _import(module_name, label)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{label}: module {module_name!r} has no {attr!r}") from None
