"""The packages stand in layers: each imports only the ones below it, never one above.

    telecenter   the command, the server's assembly, the routes, the demo
    admin_web    the web admin
    ivr          what happens on a call
    dialplan     configuration -> Asterisk files, Apply
    fastagi      the AGI wire, the server's mechanics, AMI, settings, database

Every import counts, at the top of a module or inside a function.
"""

import ast
from pathlib import Path

import pytest

from fastagi.settings import PROJECT_ROOT

LAYERS = ("fastagi", "dialplan", "ivr", "admin_web", "telecenter")
# admin_web stands on ivr only where it must (audio conversion, speech, the simulator).
MAY_IMPORT = {package: set(LAYERS[:i]) for i, package in enumerate(LAYERS)}


def imports_of(package: str) -> list[tuple[str, str]]:
    """(where, imported package) for every import of another package of ours."""
    found = []
    for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in LAYERS and top != package:
                    found.append((f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", top))
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package):
    upward = [f"{where} imports {top}" for where, top in imports_of(package)
              if top not in MAY_IMPORT[package]]
    assert upward == []


def test_only_the_application_imports_the_admin():
    importers = {package for package in LAYERS
                 if any(top == "admin_web" for _where, top in imports_of(package))}
    assert importers == {"telecenter"}


def test_the_layers_are_every_package_of_ours():
    packages = {p.parent.name for p in Path(PROJECT_ROOT).glob("*/__init__.py")}
    assert packages - {"tests", "bench"} == set(LAYERS)
