"""Boundaries enforced, not just reviewed.

- A service (its code and its tests) never imports another service's package: services talk through
  events and HTTP only.
- A service never reads another service's tables: no table of another service is named in its SQL
  (``table()``/``Table()``/``text()``/``ForeignKey()``), and its database is its own.
- ``shared/`` holds mechanisms, no business rules: it imports no service package, and cites no rule
  id (C5, O2, P7, ...) outside the event contracts (which say which rule a field serves) and the I
  rules of the identity module (the roles every service reads from the identity token).

Each check is also run against a small bad example, so a check that can no longer fail is noticed.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from contractkit import REPO, SERVICES

SHARED = REPO / "shared" / "src" / "homecraft_shared"
RULE_ID = re.compile(r"\b[ACEIKOPQRSV]\d{1,2}\b")
SQL_CALLS = {"table", "Table", "text", "ForeignKey"}


def service_dir(service: str) -> Path:
    return REPO / ("gateway" if service == "gateway" else f"services/{service}")


def python_files(folder: Path) -> Iterator[Path]:
    yield from (path for path in sorted(folder.rglob("*.py")) if ".venv" not in path.parts)


def imported_packages(source: str) -> set[str]:
    """The top-level packages a module imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def cross_service_imports(service: str, source: str) -> set[str]:
    return imported_packages(source) & (set(SERVICES) - {service})


def sql_strings(source: str) -> Iterator[str]:
    """String arguments of the calls that name tables: ``sa.table(..)``, ``Table(..)``, ``text(..)``, ``ForeignKey(..)``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SQL_CALLS:
                yield from (text for arg in node.args if (text := _string(arg)))


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def declared_tables(folder: Path) -> set[str]:
    """Tables declared under ``folder``: ``__tablename__ = "..."`` and ``Table("...", ...)``."""
    found: set[str | None] = set()
    for path in python_files(folder):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__tablename__" for t in node.targets):
                found.add(_string(node.value))
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "Table":
                found.add(_string(node.args[0]) if node.args else None)
    return {name for name in found if name}


def tables_of(service: str) -> set[str]:
    """The service's own tables (the platform's, e.g. the messaging tables, every service has)."""
    return declared_tables(service_dir(service) / "src") - declared_tables(SHARED)


def foreign_tables_named(service: str, source: str, owners: dict[str, set[str]]) -> set[str]:
    named = set()
    for text in sql_strings(source):
        for owner, tables in owners.items():
            if owner != service:
                named.update(f"{owner}.{table}" for table in tables if re.search(rf"\b{re.escape(table)}\b", text))
    return named


def rule_citations(path: Path, source: str) -> set[str]:
    relative = path.relative_to(SHARED).as_posix()
    if relative.startswith("events/"):
        return set()
    cited = set(RULE_ID.findall(source))
    if relative == "identity.py":
        cited = {rule for rule in cited if not rule.startswith("I")}
    return cited


@pytest.fixture(scope="module")
def table_owners() -> dict[str, set[str]]:
    owners = {service: tables_of(service) for service in SERVICES}
    shared_names = [table for table in owners["catalog"] if any(table in owners[s] for s in SERVICES if s != "catalog")]
    assert not shared_names, f"two services declare the same table names: {shared_names}"
    return owners


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service(service: str) -> None:
    offenders = {
        path.relative_to(REPO).as_posix(): sorted(found)
        for path in python_files(service_dir(service))
        if (found := cross_service_imports(service, path.read_text()))
    }
    assert not offenders, f"{service} imports other services' packages (use events or their HTTP API): {offenders}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_names_no_other_services_tables(service: str, table_owners: dict[str, set[str]]) -> None:
    offenders = {
        path.relative_to(REPO).as_posix(): sorted(found)
        for path in python_files(service_dir(service) / "src")
        if (found := foreign_tables_named(service, path.read_text(), table_owners))
    }
    assert not offenders, f"{service} reads tables it does not own (keep a projection of their events): {offenders}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_a_database_of_its_own(service: str) -> None:
    settings = importlib.import_module(f"{service}.settings")
    classes = [obj for obj in vars(settings).values() if isinstance(obj, type) and obj.__module__ == settings.__name__]
    (settings_class,) = classes
    assert settings_class.model_fields["database_url"].default.endswith(f"/{service}.db")


def test_shared_imports_no_service_and_cites_no_business_rule() -> None:
    imports = {
        path.relative_to(REPO).as_posix(): sorted(found)
        for path in python_files(SHARED)
        if (found := imported_packages(path.read_text()) & set(SERVICES))
    }
    assert not imports, f"shared imports service packages: {imports}"
    rules = {
        path.relative_to(REPO).as_posix(): sorted(found)
        for path in python_files(SHARED)
        if (found := rule_citations(path, path.read_text()))
    }
    assert not rules, (
        f"shared cites business rules {rules}: rules belong to the service that owns them; shared holds "
        "mechanisms (the event contracts in homecraft_shared/events may cite the rule a field serves)"
    )


def test_the_checks_catch_bad_examples(table_owners: dict[str, set[str]]) -> None:
    """Each check above fails on the kind of code it is there to stop."""
    assert cross_service_imports("orders", "from catalog.models import Product\nimport homecraft_shared") == {"catalog"}
    assert cross_service_imports("orders", "import engagement.handlers") == {"engagement"}
    assert cross_service_imports("catalog", "from catalog.models import Product") == set()
    catalog_table = sorted(table_owners["catalog"])[0]
    bad_sql = f'sa.text("SELECT * FROM {catalog_table} WHERE id = :id")'
    assert foreign_tables_named("orders", bad_sql, table_owners) == {f"catalog.{catalog_table}"}
    assert foreign_tables_named("catalog", bad_sql, table_owners) == set()
    assert foreign_tables_named("orders", 'client.post("/internal/products/lookup")', table_owners) == set()
    assert rule_citations(SHARED / "money.py", "def fee(): ...  # P7: the platform keeps its fee") == {"P7"}
    assert rule_citations(SHARED / "events" / "orders.py", "# O2: the snapshot") == set()
