"""The CLI must run on an older system python3 too: no syntax or runtime typing past Python 3.8."""

import ast
from pathlib import Path

import pytest

CLI_DIR = Path(__file__).resolve().parent.parent
SOURCES = sorted([CLI_DIR / "berth", *(CLI_DIR / "berth_cli").rglob("*.py")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(CLI_DIR)))
def test_source_parses_as_python_3_8(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: str(path.relative_to(CLI_DIR)))
def test_annotations_are_never_evaluated(path):
    source = path.read_text()
    # `str | None` and `list[str]` in annotations need the future import below Python 3.10 / 3.9.
    has_annotations = any(
        isinstance(node, ast.AnnAssign) or (isinstance(node, ast.arg) and node.annotation is not None)
        for node in ast.walk(ast.parse(source))
    )
    assert not has_annotations or "from __future__ import annotations" in source


def test_only_the_standard_library_is_imported_at_module_level():
    allowed_third_party = {"websockets"}  # imported lazily, inside a function, when present
    for path in SOURCES:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top == "berth_cli" or top == "__future__" or top in _stdlib(), (path, name)
                assert top not in allowed_third_party, (path, name)


def _stdlib() -> frozenset:
    import sys

    return frozenset(sys.stdlib_module_names)
