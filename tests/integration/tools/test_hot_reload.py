"""Plugins: a changed file is re-imported without a restart; versions are kept; a broken edit never
takes the working version down; a removed file unregisters its tools."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from workbench.tools import ToolExecutor, ToolNotFoundError, ToolPolicy, ToolRegistry

PLUGIN = '''
from workbench.tools import tool

@tool(version="{version}")
def branch_hours(city: str) -> dict:
    """Opening hours of the branch in a city."""
    return {{"city": city, "hours": "{hours}"}}
'''


def _write(folder: Path, version: str, hours: str) -> None:
    (folder / "branches.py").write_text(textwrap.dedent(PLUGIN.format(version=version, hours=hours)))


async def test_hot_reload_without_restart(tmp_path: Path) -> None:
    _write(tmp_path, "1.0", "9-17")
    (tmp_path / "_private.py").write_text("raise RuntimeError('never imported')")
    reg = ToolRegistry.from_folder(tmp_path, check_interval_s=0)       # check on every lookup
    ex = ToolExecutor(reg, ToolPolicy({"bank": ("*",)}))
    assert (await ex.acall("bank", "u1", "branch_hours", {"city": "Shanghai"})).output["hours"] == "9-17"

    _write(tmp_path, "1.1", "9-18")                                     # deploy a new version of the file
    result = await ex.acall("bank", "u1", "branch_hours", {"city": "Shanghai"})
    assert (result.output["hours"], result.version) == ("9-18", "1.1")
    assert [v.version for v in reg.versions("branch_hours")] == ["1.0", "1.1"] and reg.reloads == 1
    assert reg.get("branch_hours", version="1.0")("x")["hours"] == "9-17"   # the old version stays reachable

    (tmp_path / "branches.py").write_text("this is not python(")        # a broken deploy
    assert reg.reload_if_changed() == ["branches.py"]
    assert "SyntaxError" in reg.errors["branches.py"]
    assert (await ex.acall("bank", "u1", "branch_hours", {"city": "X"})).output["hours"] == "9-18"

    _write(tmp_path, "1.2", "8-20")                                     # fixed: the error clears
    assert reg.get("branch_hours").version == "1.2" and reg.errors == {}

    (tmp_path / "branches.py").unlink()
    with pytest.raises(ToolNotFoundError):
        reg.get("branch_hours")


def test_lookup_checks_are_throttled(tmp_path: Path) -> None:
    _write(tmp_path, "1.0", "9-17")
    reg = ToolRegistry.from_folder(tmp_path, check_interval_s=3600)
    _write(tmp_path, "2.0", "0-24")
    assert reg.get("branch_hours").version == "1.0"                    # not checked yet
    reg.reload_if_changed()
    assert reg.get("branch_hours").version == "2.0"
