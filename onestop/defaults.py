"""What onestop uses when told nothing: the bundled definitions and the default database.

The definitions (``workflows/``: unit sets, catalogs, fields; ``simulations/``: scenarios) sit
at the top of the repository and ship inside the package as ``onestop/_bundled/workflows`` and
``onestop/_bundled/simulations`` (``pyproject.toml`` maps them, every YAML file included), so a
wheel installed anywhere finds them through :mod:`importlib.resources`. A source checkout (an
editable install, or the working tree on ``sys.path``) reads its own top-level directories, so
an edit there is seen at once without reinstalling.

    >>> (workflows_dir() / "onestop.yaml").is_file()
    True
    >>> scenario_path("cantho-2024").name
    'cantho-2024.yaml'
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Literal

from onestop.errors import ValidationError

#: The one default SQLite file of every command (``onestop demo`` writes it; ``report``,
#: ``alerts``, ``verify``, ``scheduler run``, ``scorecard``, ``anchor``... read it).
DEFAULT_DB = "onestop-demo.db"
#: :data:`DEFAULT_DB` as a SQLAlchemy URL (the default of ``Engine.open``).
DEFAULT_URL = f"sqlite:///{DEFAULT_DB}"
#: The scenario ``onestop demo`` runs.
DEFAULT_SCENARIO = "cantho-2024"

Kind = Literal["workflows", "simulations"]
_PACKAGE = "onestop"
_BUNDLED = "_bundled"


def bundled(kind: Kind) -> Path:
    """The directory of the definitions that ship with this onestop.

    Args:
        kind: ``workflows`` (units, catalogs, fields) or ``simulations`` (scenarios).

    Raises:
        ValidationError: If this installation has no such directory (a broken install).
    """
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / kind).is_dir():
        return checkout / kind  # a source checkout reads its own files
    # A wheel installs package data as plain files, so the resource is a real directory.
    root = Path(str(resources.files(_PACKAGE).joinpath(_BUNDLED, kind)))
    if not root.is_dir():
        raise ValidationError(kind, f"no bundled {kind} directory in {root.parent} (reinstall)")
    return root


def workflows_dir() -> Path:
    """The bundled ``workflows/`` directory (what ``--workflows`` overrides)."""
    return bundled("workflows")


def simulations_dir() -> Path:
    """The bundled ``simulations/`` directory."""
    return bundled("simulations")


def scenario_names() -> list[str]:
    """Names of the bundled scenarios (``cantho-2024``, ...), sorted."""
    return sorted(p.stem for p in simulations_dir().glob("*.yaml"))


def scenario_path(scenario: str | Path) -> Path:
    """A scenario file: ``scenario`` itself if it exists, else the bundled scenario of that name.

    ``simulations/cantho-2024.yaml`` and ``cantho-2024`` both work from any directory.

    Args:
        scenario: A path, or the name of a bundled scenario (with or without ``.yaml``).

    Raises:
        ValidationError: If it is neither (the message lists the bundled names).
    """
    path = Path(scenario)
    if path.exists():
        return path
    name = path.name.removesuffix(".yaml")
    candidate = simulations_dir() / f"{name}.yaml"
    if candidate.is_file() and path.parent in (Path("."), Path("simulations")):
        return candidate
    raise ValidationError(
        "scenario",
        f"{scenario}: file not found, and not a bundled scenario ({', '.join(scenario_names())})",
    )


def copy_definitions(target: Path, *, force: bool = False) -> list[Path]:
    """Copy the bundled ``workflows/`` and ``simulations/`` into ``target`` for a city to edit.

    The scenarios name their definitions as ``../workflows``, so the copies work together.

    Args:
        target: The directory to fill (created if missing).
        force: Write into a non-empty directory, replacing files of the same names.

    Returns:
        The files written, sorted.

    Raises:
        ValidationError: If ``target`` is a file, or a non-empty directory without ``force``.
    """
    if target.exists() and not target.is_dir():
        raise ValidationError("DIR", f"{target} is a file, not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ValidationError("DIR", f"{target} is not empty (pass --force to write into it)")
    written: list[Path] = []
    kinds: tuple[Kind, ...] = ("workflows", "simulations")
    for kind in kinds:
        source = bundled(kind)
        for file in sorted(source.rglob("*.y*ml")):  # as Definitions.load reads them
            dest = target / kind / file.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, dest)
            written.append(dest)
    return written
