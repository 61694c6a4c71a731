"""services/ is a set of feature packages, each with a public surface (its ``__init__``):
code outside a package imports the names that surface exports, never a module inside it.
The packages import each other in one direction only (``acyclic_siblings`` in
pyproject.toml); tests may reach inside, web, cli, worker and other packages may not. And
no module of services/ imports inside a function, where a circle would hide from both."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import grimp

import datatrust.services

SERVICES = "datatrust.services"
SERVICES_DIR = Path(datatrust.services.__file__).parent


def reaching_in(graph: grimp.ImportGraph) -> list[str]:
    """Every import of a module inside a services package from outside that package."""
    found = []
    for package in graph.find_children(SERVICES):
        for module in graph.find_descendants(package):
            for importer in graph.find_modules_that_directly_import(module):
                if importer != package and not importer.startswith(package + "."):
                    found.append(f"{importer} -> {module}")
    return sorted(found)


def test_code_outside_a_services_package_imports_only_what_its_surface_exports():
    graph = grimp.build_graph("datatrust", cache_dir=None)
    packages = [p for p in graph.find_children(SERVICES) if graph.find_children(p)]
    assert len(packages) >= 7, packages  # the check looks at the feature packages
    assert reaching_in(graph) == []


def test_the_check_catches_an_import_that_reaches_inside_a_package():
    graph = grimp.ImportGraph()
    for module in (
        SERVICES,
        f"{SERVICES}.market",
        f"{SERVICES}.market.orders",
        f"{SERVICES}.market.snapshots",
        "datatrust.web",
        "datatrust.web.api",
    ):
        graph.add_module(module)
    graph.add_import(importer="datatrust.web.api", imported=f"{SERVICES}.market")
    graph.add_import(importer=f"{SERVICES}.market.snapshots", imported=f"{SERVICES}.market.orders")
    assert reaching_in(graph) == []
    graph.add_import(importer="datatrust.web.api", imported=f"{SERVICES}.market.orders")
    assert reaching_in(graph) == [f"datatrust.web.api -> {SERVICES}.market.orders"]


def imports_inside_functions(source: str) -> list[int]:
    """Lines of the imports made inside a function: the way a circle hides from the graph."""
    return sorted(
        inner.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    )


def test_services_import_everything_at_the_top_of_the_module():
    found = {
        str(path.relative_to(SERVICES_DIR)): lines
        for path in sorted(SERVICES_DIR.rglob("*.py"))
        if (lines := imports_inside_functions(path.read_text("utf-8")))
    }
    assert found == {}


def test_the_check_finds_an_import_inside_a_function():
    source = "import io\n\n\ndef f():\n    from datatrust.services import market\n"
    assert imports_inside_functions(source) == [5]


def imports_by_name(source: str) -> list[int]:
    """Lines that import a module named at run time (``importlib.import_module``,
    ``__import__``): an arrow no import graph sees, so a circle or a reach inside a package
    could hide behind it (orders once booked sales through one)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            or (isinstance(node.func, ast.Name) and node.func.id in ("__import__", "import_module"))
        )
    )


# The one module allowed to: it loads the job plugins the operator names in settings.
LOADS_PLUGINS = "handlers.py"


def test_services_import_no_module_by_name_but_the_operators_job_plugins():
    found = {
        str(path.relative_to(SERVICES_DIR)): lines
        for path in sorted(SERVICES_DIR.rglob("*.py"))
        if (lines := imports_by_name(path.read_text("utf-8")))
    }
    assert set(found) <= {LOADS_PLUGINS}, found
    assert LOADS_PLUGINS in found  # the check reads the plugin loader, so it would see others


def test_the_check_finds_a_module_imported_by_name():
    source = (
        "import importlib\n\n\ndef f():\n"
        '    m = importlib.import_module("datatrust.services.money.sales")\n'
        '    n = __import__("os")\n'
    )
    assert imports_by_name(source) == [5, 6]


def names_used_from_packages(source: str) -> set[tuple[str, str]]:
    """(package, name) for every ``package.name`` in ``source`` where ``package`` was
    imported as ``from datatrust.services import package``."""
    tree = ast.parse(source)
    aliases = {
        alias.asname or alias.name: alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == SERVICES
        for alias in node.names
    }
    return {
        (aliases[node.value.id], node.attr)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
    }


def test_every_name_used_from_a_services_package_is_on_its_surface():
    missing = sorted(
        f"{path.relative_to(SERVICES_DIR.parent)}: {package}.{name}"
        for path in sorted(SERVICES_DIR.parent.rglob("*.py"))
        for package, name in names_used_from_packages(path.read_text("utf-8"))
        if not hasattr(importlib.import_module(f"{SERVICES}.{package}"), name)
    )
    assert missing == []


def test_the_surface_check_sees_a_name_used_through_a_package():
    source = "from datatrust.services import market\n\nmarket.catalogue\nother.thing\n"
    assert names_used_from_packages(source) == {("market", "catalogue")}
