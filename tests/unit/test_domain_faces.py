"""Each domain's face is written twice: ``__all__`` in its ``__init__.py`` (what a reader sees) and
the ``protected`` import-linter contract in pyproject.toml (what ``make lint`` enforces). They agree,
and every module a face names exists."""

from __future__ import annotations

import importlib
import importlib.util
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _faces_in_contract() -> dict[str, set[str]]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (protected,) = [c for c in contracts if c["type"] == "protected"]
    faces: dict[str, set[str]] = {package: set() for package in protected["protected_modules"]}
    for expression in protected["ignore_imports"]:
        importer, imported = (side.strip() for side in expression.split("->"))
        assert importer == "commandpost.**", f"an entry opens one module to every importer: {expression}"
        package, _, module = imported.rpartition(".")
        assert package in faces, f"{imported} is in no protected domain"
        faces[package].add(module)
    return faces


def test_every_domain_declares_the_face_the_contract_enforces() -> None:
    for package, modules in _faces_in_contract().items():
        declared = importlib.import_module(package).__all__
        assert set(declared) == modules, f"{package}: __all__ {sorted(declared)}, contract {sorted(modules)}"


def test_every_face_module_exists() -> None:
    for package, modules in _faces_in_contract().items():
        for module in modules:
            assert importlib.util.find_spec(f"{package}.{module}"), f"{package}.{module} does not exist"
