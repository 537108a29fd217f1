"""The README's Python example runs as written (against a temporary database)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onestop import Dossier

ROOT = Path(__file__).parent.parent


def test_readme_embedding_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README has a Python example"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "workflows").symlink_to(ROOT / "workflows")
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102 - our own README
    d = namespace["d"]
    assert isinstance(d, Dossier)
    assert d.status.value == "processing" and d.fee_paid_online is True
    assert (tmp_path / "onestop.db").exists()
