"""Imports go one way between the parts (README, Development): a part never reaches up."""

from __future__ import annotations

import ast
from pathlib import Path

import erroracle

PACKAGE = Path(erroracle.__file__).parent
# part -> the other parts (or part.module) it may import; a part may always import itself
ALLOWED = {
    "client": set(),
    "errors": set(),
    "knowledge": {"errors"},
    "platform": {"client", "errors"},
    "crawlers": {"client", "errors", "platform"},
    "learners": {"errors", "knowledge", "platform"},
    "serve": {"errors", "platform", "learners.model"},
    "loop": {"client", "errors", "knowledge", "platform", "crawlers", "learners"},
}


def _part(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imported(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return [name.split(".", 1)[1] for name in names if name.startswith("erroracle.")]


def _allowed(part: str, target: str) -> bool:
    target_part = target.split(".")[0]
    if target_part == part:
        return True
    return any(target == rule or target.startswith(rule + ".") or target_part == rule
               for rule in ALLOWED[part])


def test_no_part_imports_against_the_direction():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = _part(path)
        if part not in ALLOWED:  # the command line may import anything
            continue
        for target in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if not _allowed(part, target):
                wrong.append(f"{path.relative_to(PACKAGE)} imports erroracle.{target}")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_wrong_import():
    tree = ast.parse("def f():\n    from erroracle.learners.train import build_trainer\n")
    assert [t for t in _imported(tree) if not _allowed("serve", t)] == ["learners.train"]
    assert _allowed("serve", "learners.model")
