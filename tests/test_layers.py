"""The layers the README's Architecture lists are the ones the code has: every import in src/
(function-level and TYPE_CHECKING ones included) goes to its own folder or one listed below it."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from .conftest import ROOT

SRC = ROOT / "src" / "agentsup"
BASE = {"errors", "__init__"}  # top-level modules every layer may use
ENTRY = {"__main__": "cli"}  # `python -m agentsup` is the CLI's


def layers(readme: str) -> list[str]:
    """The folders of the Architecture block, top (imports the most) to bottom."""
    block = re.search(r"## Architecture.*?```\nsrc/agentsup/\n(.*?)```", readme, re.S)
    assert block is not None, "the README's Architecture names the folders in a src/agentsup/ block"
    return re.findall(r"^  (\w+)/", block.group(1), re.M)


def rooms(readme: str, folder: str) -> list[str]:
    """The rooms the Architecture block lists under `folder`, top to bottom."""
    block = re.search(rf"^  {folder}/.*?\n((?:    .*\n|                 .*\n)*)", readme, re.M)
    assert block is not None, f"the README's Architecture lists the rooms of {folder}/"
    return re.findall(r"^    (\w+)/", block.group(1), re.M)


def room_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "agentsup":
        return None
    name = parts[1]
    return ENTRY.get(name, None if name in BASE else name)


def supervisor_room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) >= 3 and parts[:2] == ["agentsup", "supervisor"] else None


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, module) of every import of agentsup in `path`, wherever it is written."""
    found = []
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return [(line, t) for line, t in found if t == "agentsup" or t.startswith("agentsup.")]


def upward(src: Path, order: list[str], room: Callable[[str], str | None] = room_of,
           prefix: str = "agentsup") -> list[str]:
    """Every import that goes to a folder listed above the importing one (or to one not listed)."""
    rank = {name: i for i, name in enumerate(order)}
    wrong = []
    for path in sorted(src.rglob("*.py")):
        module = ".".join((prefix, *path.relative_to(src).with_suffix("").parts))
        here = room(module.removesuffix(".__init__"))
        for line, target in imports(path, module.removesuffix(".__init__")):
            there = room(target)
            if here is None or there is None or there == here:
                continue
            if here not in rank or there not in rank:
                wrong.append(f"{path.relative_to(src)}:{line}: {here} or {there} is not in the Architecture list")
            elif rank[there] < rank[here]:
                wrong.append(f"{path.relative_to(src)}:{line}: {here} imports {target}, a layer above it")
    return wrong


def test_every_import_runs_down_the_layers_the_readme_lists() -> None:
    order = layers((ROOT / "README.md").read_text(encoding="utf-8"))
    folders = sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert sorted(order) == folders, "the Architecture lists every folder of src/agentsup/, once"
    assert upward(SRC, order) == []


def test_the_supervisor_s_rooms_are_layers_too_and_no_module_sits_outside_them() -> None:
    order = rooms((ROOT / "README.md").read_text(encoding="utf-8"), "supervisor")
    sup = SRC / "supervisor"
    folders = sorted(p.name for p in sup.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert sorted(order) == folders, "the Architecture lists every room of supervisor/, once"
    assert [p.name for p in sup.glob("*.py")] == ["__init__.py"], "every module of supervisor/ is in a room"
    assert upward(sup, order, supervisor_room_of, "agentsup.supervisor") == []


def test_an_upward_import_anywhere_is_caught(tmp_path: Path) -> None:
    for folder in ("store", "agents"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "agents" / "detect.py").write_text("from agentsup.store import state\n")  # down: fine
    (tmp_path / "store" / "record.py").write_text(
        "def late():\n    from agentsup.agents.detect import Observation\n")  # up, inside a function
    (tmp_path / "store" / "journal.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..agents import detect\n")  # up, relative
    assert upward(tmp_path, ["agents", "store"]) == [
        "store/journal.py:3: store imports agentsup.agents, a layer above it",
        "store/record.py:2: store imports agentsup.agents.detect, a layer above it",
    ]
