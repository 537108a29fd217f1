"""Reading definition files: YAML parsing and pydantic validation into precise problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from onestop.errors import DefinitionError, Problem

M = TypeVar("M", bound=pydantic.BaseModel)

#: libyaml's safe loader when PyYAML was built with it (several times faster on the unit sets),
#: else the pure-Python one; both build the same plain objects.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Largest definition file accepted, to keep a stray or hostile file from exhausting memory.
MAX_FILE_BYTES = 20 * 1024 * 1024


def load_yaml(path: Path) -> Any:
    """Parse one YAML file with the safe loader.

    Raises:
        DefinitionError: If the file is missing, too large, not UTF-8 or not valid YAML.
    """
    name = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DefinitionError([Problem(name, "", f"file larger than {MAX_FILE_BYTES} bytes")])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError([Problem(name, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise DefinitionError([Problem(name, "", f"not UTF-8 text ({exc.reason})")]) from None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([Problem(name, where, f"invalid YAML: {reason}")]) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # PyYAML's constructors raise plain errors, e.g. for a date like 2027-13-40.
        raise DefinitionError([Problem(name, "", f"invalid value in YAML: {exc}")]) from None


def key_path(loc: tuple[int | str, ...], prefix: str = "") -> str:
    """Render a pydantic error location as ``a.b[2].c``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problems_from(exc: pydantic.ValidationError, file: str, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into one Problem per error."""
    problems = []
    for err in exc.errors():
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        problems.append(Problem(file, key_path(tuple(err["loc"]), prefix), msg))
    return problems


def validate_model(model: type[M], data: Any, file: str, prefix: str = "") -> M:
    """Validate ``data`` as ``model``, raising DefinitionError with key paths on failure."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise DefinitionError(problems_from(exc, file, prefix)) from None
