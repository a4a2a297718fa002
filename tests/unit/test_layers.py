"""The root modules keep to their floors (import-linter checks the packages; see
pyproject.toml): models, money, errors and settings, at the bottom, import only one
another; the packages never import api.py or manage.py, which stand on top."""
import ast
import os

import pytest

from tests.helpers import ROOT

GROUND = {"models", "money", "errors", "settings"}
OURS = GROUND | {"api", "manage", "web", "actors", "payments", "accounts", "ledger",
                 "locking", "infra"}
PACKAGES = ["web", "actors", "payments", "accounts", "ledger", "locking", "infra"]


def imported(path: str) -> set[str]:
    """The top-level names of the project's modules that `path` imports."""
    with open(path) as source:
        tree = ast.parse(source.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("module", sorted(GROUND))
def test_a_ground_module_imports_only_the_ground(module):
    assert imported(os.path.join(ROOT, f"{module}.py")) <= GROUND - {module}


def test_no_package_imports_the_composition_root_or_the_operator_commands():
    offenders = []
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    if imported(path) & {"api", "manage"}:
                        offenders.append(os.path.relpath(path, ROOT))
    assert offenders == []


def test_the_checker_sees_an_upward_import(tmp_path):
    # The control: a ground module that imported a package, however spelled, is caught
    probe = tmp_path / "probe.py"
    probe.write_text("import payments.door\nfrom web import views\nimport os\n"
                     "from . import sibling\nimport settings\n")
    assert imported(str(probe)) - GROUND == {"payments", "web"}
