"""Reading definition files: YAML parsing and pydantic validation into precise problems."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from onestop.errors import DefinitionError, Problem

M = TypeVar("M", bound=pydantic.BaseModel)

#: Largest definition file accepted, checked before parsing: the largest shipped one is under
#: 100 kB, and parsing (and validating) grows with size, so a stray or hostile file must not.
MAX_FILE_BYTES = 2 * 1024 * 1024
#: Most values (mappings, lists, scalars) a file may hold, aliases counted at each use: bounds
#: what validation walks, whatever a file's anchors multiply.
MAX_NODES = 250_000
#: Deepest nesting of mappings and lists accepted: definitions nest a few levels, and the
#: composer recurses once a level (in C with libyaml, where too deep a file would crash).
MAX_DEPTH = 50
#: libyaml's safe loader when PyYAML was built with it (several times faster), else PyYAML's.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_capped(path: Path) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES` (symlinks followed).

    Raises:
        DefinitionError: If it is missing, not a regular file (a device, a FIFO, a directory),
            or larger than the cap.
    """
    name = str(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise DefinitionError([Problem(name, "", "not a regular file")])
        if info.st_size > MAX_FILE_BYTES:
            raise DefinitionError([Problem(name, "", f"file larger than {MAX_FILE_BYTES} bytes")])
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # the file may grow after stat
    except FileNotFoundError:
        raise DefinitionError([Problem(name, "", "file not found")]) from None
    except OSError as exc:
        raise DefinitionError([Problem(name, "", f"cannot read: {exc.strerror}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise DefinitionError([Problem(name, "", f"file larger than {MAX_FILE_BYTES} bytes")])
    return data


def _check_shape(text: str, name: str) -> None:
    """Walk the YAML events (iteratively: no recursion) and raise DefinitionError if the file
    nests deeper than :data:`MAX_DEPTH` or holds more than :data:`MAX_NODES` values, before any
    of it is built."""
    depth = events = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                where = f"line {event.start_mark.line + 1}" if event.start_mark else ""
                raise DefinitionError([Problem(name, where, f"nested deeper than {MAX_DEPTH}")])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif not isinstance(event, yaml.ScalarEvent | yaml.AliasEvent):
            continue
        events += 1
        if events > MAX_NODES:
            raise DefinitionError([Problem(name, "", f"more than {MAX_NODES} values")])


def _count_nodes(data: Any, name: str) -> None:
    """Raise DefinitionError if ``data`` holds more than :data:`MAX_NODES` values."""
    seen = 0
    stack = [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise DefinitionError(
                [Problem(name, "", f"more than {MAX_NODES} values (aliases counted at each use)")]
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_yaml(path: Path) -> Any:
    """Parse one YAML file with the safe loader, within a size and a value budget.

    Raises:
        DefinitionError: If the file is missing, not a regular file, larger than
            :data:`MAX_FILE_BYTES`, not UTF-8, not valid YAML, nests deeper than
            :data:`MAX_DEPTH`, or holds more than :data:`MAX_NODES` values.
    """
    name = str(path)
    raw = _read_capped(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError([Problem(name, "", f"not UTF-8 text ({exc.reason})")]) from None
    try:
        _check_shape(text, name)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError([Problem(name, where, f"invalid YAML: {reason}")]) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # PyYAML's constructors raise plain errors, e.g. for a date like 2027-13-40.
        raise DefinitionError([Problem(name, "", f"invalid value in YAML: {exc}")]) from None
    _count_nodes(data, name)
    return data


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
