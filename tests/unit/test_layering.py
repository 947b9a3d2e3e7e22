"""Guards on the shape of services/: the service layer reaches storage and the outside world
through its ports only, and nothing reaches into a library's private parts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services" / "order_platform"
SERVICE_LAYER = SERVICES / "service_layer"
# What the service layer must not import: the concrete adapters, and the drivers and SDKs
# behind them (through which an adapter's types would leak in).
FORBIDDEN_IN_SERVICE_LAYER = re.compile(
    r"order_platform\.(adapters|entrypoints|bootstrap)\b|(psycopg2|boto3|botocore|redis|flask"
    r"|apiflask|werkzeug|prometheus_client)\b")
# Underscored names that are public API: ``os._exit`` (documented in ``os``),
# ``logging._srcfile`` (set to None by the logging HOWTO's "Optimization" section), and
# werkzeug's documented ``LocalProxy._get_current_object`` (on whatever proxy it is called).
PUBLIC_UNDERSCORED = {("os", "_exit"), ("logging", "_srcfile")}
PUBLIC_METHODS = {"_get_current_object"}
# Libraries whose module attributes nothing here may replace (our own modules and the
# standard library's documented settings, such as ``logging.logThreads``, are not these).
LIBRARIES = re.compile(r"(prometheus_client|flask|apiflask|werkzeug|psycopg2|marshmallow"
                       r"|webargs|apispec|gunicorn|opentelemetry|boto3|botocore|redis|yoyo"
                       r"|tenacity|orjson)\b")


def _sources(root: Path) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(root.rglob("*.py"))]


def _imported(tree: ast.Module) -> list[tuple[int, str]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return names


def test_the_service_layer_imports_no_adapter_and_no_driver():
    found = [f"{path.relative_to(SERVICES)}:{line}: {name}"
             for path, tree in _sources(SERVICE_LAYER) for line, name in _imported(tree)
             if FORBIDDEN_IN_SERVICE_LAYER.match(name)]
    assert found == [], "the service layer talks to adapters through its ports only"


def _defined_here(tree: ast.Module) -> set[str]:
    """The underscored names a module gives its own objects: attributes it assigns, class
    attributes and slots, methods."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__ entries
    return {name for name in names if name.startswith("_")}


def _private_reach(tree: ast.Module) -> list[tuple[int, str]]:
    """``x._name`` where ``x`` is not ``self``, ``cls`` or ``super()``; ``self._name`` where
    the module never gives its objects that name (a library base class's own); any
    name-mangled ``_Class__name``; and any assignment to an attribute of a library's module or
    class."""
    own = _defined_here(tree)
    imported = {alias.asname or alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
                if LIBRARIES.match(getattr(node, "module", None) or alias.name)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base, name = node.value, node.attr
        owner = base.id if isinstance(base, ast.Name) else None
        mangled = re.match(r"_[A-Za-z0-9]+__[a-z]", name) is not None
        private = name.startswith("_") and not name.endswith("__")
        ours = (owner in ("self", "cls") and name in own) or (isinstance(base, ast.Call) and
                                                                  isinstance(base.func, ast.Name)
                                                                  and base.func.id == "super")
        public = (owner, name) in PUBLIC_UNDERSCORED or name in PUBLIC_METHODS
        if mangled or (private and not ours and not public):
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node.ctx, ast.Store) and owner in imported:
            found.append((node.lineno, f"{ast.unparse(node)} = ..."))
    return found


def test_nothing_in_services_reaches_into_a_librarys_private_parts():
    found = [f"{path.relative_to(SERVICES)}:{line}: {text}"
             for path, tree in _sources(SERVICES) for line, text in _private_reach(tree)]
    assert found == [], "use the library's public API (see STYLE.md #16)"


def test_the_guard_sees_what_it_is_for():
    caught = _private_reach(ast.parse(
        "from prometheus_client import values\n"
        "import flask\n"
        "child._value.inc(1)\n"
        "view._sync_ensured = True\n"
        "self._MmapedValue__check_for_pid_change()\n"
        "values.ValueClass = object\n"
        "flask.json = None\n"
        "self._mine = os._exit\n"
        "self._file._m[0] = self._mine\n"))
    assert sorted(line for line, _ in caught) == [3, 4, 5, 6, 7, 9, 9]


# The internals kept on purpose, each in the one module named, with a test that fails by name
# on the upgrade that breaks it.
KEPT_INTERNALS = {"force_close": "entrypoints/web/draining.py"}  # tests/unit/test_drain_hook.py


def test_each_kept_internal_is_used_in_its_one_module_only():
    found = {(name, str(path.relative_to(SERVICES)))
             for path, tree in _sources(SERVICES) for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and (name := node.attr) in KEPT_INTERNALS}
    assert found == set(KEPT_INTERNALS.items())
