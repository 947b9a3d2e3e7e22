"""The unit tests need nothing of the local platform (``order_local``).

In a fresh interpreter where importing ``order_local`` fails as if it were not installed, every
unit test module, the conftests and their plugins still import, and no unit test asks for a
fixture of the real servers (``tests.support.platform``, which imports the local platform when
used); no unit test imports ``order_local`` inside a function either.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
UNIT = TESTS / "unit"

_COLLECT_WITHOUT_IT = """
import importlib.abc, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "order_local":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import pytest

class Report:
    def pytest_collection_finish(self, session):
        for item in session.items:
            print("FIXTURES", item.nodeid, *item.fixturenames)

sys.exit(pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0",
                      "tests/unit"], plugins=[Report()]))
"""


def _platform_fixtures() -> set[str]:
    tree = ast.parse((TESTS / "support" / "platform.py").read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)
            and any("fixture" in ast.unparse(d) for d in node.decorator_list)}


def _imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_unit_tests_collect_and_use_no_real_server_without_the_local_platform():
    result = subprocess.run([sys.executable, "-c", _COLLECT_WITHOUT_IT], cwd=TESTS.parent,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    used = [line.split()[1:] for line in result.stdout.splitlines()
            if line.startswith("FIXTURES ")]
    assert len(used) > 100, result.stdout[-2000:]
    platform = _platform_fixtures()
    assert {"pg_server", "aws_endpoint", "settings"} <= platform
    assert not [(nodeid, set(fixtures) & platform) for nodeid, *fixtures in used
                if set(fixtures) & platform]


def test_no_unit_test_imports_the_local_platform():
    offenders = {str(path.relative_to(TESTS)): sorted(m for m in _imports_of(path)
                                                      if m.split(".")[0] == "order_local")
                 for path in UNIT.rglob("*.py")}
    assert not {path: found for path, found in offenders.items() if found}
