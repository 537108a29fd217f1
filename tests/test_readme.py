"""The README's commands run as written, in order, in an empty directory.

The convention (for whoever adds a section to the README):

* Every fenced ```bash and ```python block is run, top to bottom, in one temporary directory
  (so the First hour's ``onestop demo`` makes the ``onestop-demo.db`` later blocks read), each
  command must exit 0. A bash block is split into commands at line ends (``\\`` continues a
  line; ``&&`` chains); ``onestop ...`` commands run in-process through the CLI (the same code
  as the console script, without a new interpreter each time), anything else in ``bash``.
* A block that cannot run in a test gets, on the line right before its fence,
  ``<!-- not run: REASON -->`` (installs, servers running until Ctrl-C, production paths,
  runs of many minutes with their own test).
* A block whose commands take over a minute gets ``<!-- run smaller: OLD => NEW; OLD2 => NEW2
  -->``: the test replaces each OLD (which must occur in the block) by NEW, e.g. ``--scale 0.25
  => --scale 0.01``. The README's run times are those of the commands as written.
* Other fences (yaml, text...) are not run.

``python -m tests.test_readme`` runs the same commands as separate processes, as written (no
"smaller"), and prints each one's wall time: the README's "Run times" table.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
_BLOCK = re.compile(
    r"(?:<!--\s*(?P<kind>not run|run smaller):(?P<arg>.*?)-->\s*\n)?"
    r"^```(?P<lang>bash|python)\n(?P<body>.*?)^```",
    re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    """One fenced block of the README: its language, commands and marker."""

    lang: str
    line: int
    body: str
    skip: str | None
    smaller: tuple[tuple[str, str], ...]

    def commands(self, smaller: bool) -> list[str]:
        """The block's commands (python: the whole block), with the smaller values if asked."""
        body = self.body
        if smaller:
            for old, new in self.smaller:
                assert old in body, f"README.md:{self.line}: 'run smaller' names {old!r}"
                body = body.replace(old, new)
        if self.lang == "python":
            return [body]
        joined = body.replace("\\\n", " ")
        return [c.strip() for c in joined.splitlines() if c.strip() and not c.startswith("#")]


def blocks(text: str | None = None) -> list[Block]:
    """Every bash and python block of the README, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for m in _BLOCK.finditer(text):
        smaller: list[tuple[str, str]] = []
        if m["kind"] == "run smaller":
            for pair in m["arg"].split(";"):
                old, _, new = pair.partition("=>")
                assert new, f"'run smaller' pair without '=>': {pair!r}"
                smaller.append((old.strip(), new.strip()))
        found.append(
            Block(
                lang=m["lang"],
                line=text.count("\n", 0, m.start("body")),
                body=m["body"],
                skip=m["arg"].strip() if m["kind"] == "not run" else None,
                smaller=tuple(smaller),
            )
        )
    return found


def test_the_markers_are_read() -> None:
    text = """
<!-- not run: a server -->
```bash
onestop serve
```
<!-- run smaller: --days 120 => --days 10; --scale 0.25 => --scale 0.01 -->
```bash
onestop simulate x --days 120 \\
    --scale 0.25 && onestop report
# a comment line
```
```yaml
a: 1
```
```python
print(1)
```
"""
    found = blocks(text)
    assert [(b.lang, b.skip) for b in found] == [
        ("bash", "a server"),
        ("bash", None),
        ("python", None),
    ]
    assert found[1].commands(smaller=True) == [
        "onestop simulate x --days 10      --scale 0.01 && onestop report"
    ]
    assert found[1].commands(smaller=False)[0].startswith("onestop simulate x --days 120 ")
    with pytest.raises(AssertionError, match="names '--days 5'"):
        Block("bash", 1, "onestop x", None, (("--days 5", "--days 1"),)).commands(True)


def _environment(bin_dir: Path) -> dict[str, str]:
    """This checkout's ``onestop`` first on PATH, whatever else is installed."""
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "onestop"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m onestop "$@"\n')
    shim.chmod(0o755)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
    }


def _parts(command: str) -> Iterator[list[str] | str]:
    """An ``onestop`` command as its arguments (to run in-process), or the text for bash."""
    if any(op in command for op in ("|", ";", ">", "<", "$", "`")) or command.startswith("export "):
        yield command
        return
    words = shlex.split(command, comments=True)
    chain: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            chain.append([])
        else:
            chain[-1].append(word)
    for argv in chain:
        yield argv[1:] if argv and argv[0] == "onestop" else shlex.join(argv)


@pytest.mark.slow
def test_every_readme_command_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every block of the README in order (the long simulations smaller, as marked)."""
    from onestop import Dossier
    from onestop.cli import app
    from onestop.log import configure

    runner = CliRunner()
    # As a new user: no audit key until the README makes one (the suite's key would hide a
    # README example that cannot run without it).
    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)
    env = _environment(tmp_path / "bin")
    env.pop("ONESTOP_AUDIT_KEY", None)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    ran: list[str] = []
    python: list[dict[str, object]] = []
    try:
        for block in blocks():
            if block.skip is not None:
                continue
            for command in block.commands(smaller=True):
                where = f"README.md:{block.line}: {command}"
                if block.lang == "python":
                    # The commands before configured logging onto their runner's closed stream.
                    configure(json=False, level="WARNING")
                    namespace: dict[str, object] = {}
                    exec(compile(command, f"README.md:{block.line}", "exec"), namespace)  # noqa: S102 - our own README
                    ran.append(where)
                    python.append(namespace)
                    continue
                for part in _parts(command):
                    if isinstance(part, str):
                        if part.startswith("export "):
                            name, _, value = part.removeprefix("export ").partition("=")
                            monkeypatch.setenv(name, value)
                            env[name] = value
                            continue
                        done = subprocess.run(
                            ["bash", "-c", part], cwd=work, env=env, capture_output=True, text=True
                        )
                        assert done.returncode == 0, f"{where}\n{done.stdout}\n{done.stderr}"
                    else:
                        result = runner.invoke(app, part)
                        assert result.exit_code == 0, f"{where}\n{result.output}"
                ran.append(where)
    finally:
        configure(json=False, level="WARNING")  # as tests/conftest.py leaves it
    # The First hour ran first, and its files are where it says.
    assert ran[0].endswith("onestop demo")
    assert (work / "onestop-demo.db").is_file() and (work / "report.html").is_file()
    assert (work / "out" / "summary.json").is_file() and (work / "anchors.jsonl").is_file()
    # The First hour's dossier, and the "Embed it" one ends as its comments say.
    first, embed = python[0]["d"], python[1]["d"]
    assert isinstance(first, Dossier) and isinstance(embed, Dossier)
    assert (first.procedure_code, first.competent_unit, first.status.value) == (
        "district.business-household",
        "92.NINHKIEU",
        "processing",
    )
    assert embed.status.value == "processing" and embed.fee_paid_online is True


def main() -> None:
    """Time every README command as written, each in its own process, in a temporary
    directory; print a Markdown table (the README's "Run times")."""
    with tempfile.TemporaryDirectory() as tmp:
        env = _environment(Path(tmp) / "bin")
        env.pop("ONESTOP_AUDIT_KEY", None)
        work = Path(tmp) / "work"
        work.mkdir()
        print("| command | wall s | CPU s |\n|---|---|---|")
        for block in blocks():
            if block.skip is not None:
                continue
            for command in block.commands(smaller=False):
                if block.lang == "python":
                    argv = [sys.executable, "-c", command]
                    shown = f"the python block at README.md:{block.line}"
                else:
                    argv, shown = ["bash", "-c", command], f"`{command.split('  #')[0].strip()}`"
                if command.startswith("export "):
                    name, _, value = command.removeprefix("export ").partition("=")
                    env[name] = value
                    continue
                t0, cpu0 = time.perf_counter(), _children_cpu()
                done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
                seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
                status = "" if done.returncode == 0 else f" (exit {done.returncode})"
                print(f"| {shown} | {seconds:.1f}{status} | {cpu:.1f} |", flush=True)
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes, grandchildren included."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
