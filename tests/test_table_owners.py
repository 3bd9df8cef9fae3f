"""Every table is written only by the package that declares it.

The owner of a table is the top-level package of the module whose `Table("name", …)` declares
it. Each module of the source (migrations aside: they shape every table) is read for writes:
SQLAlchemy's `insert(t)`, `update(t)`, `delete(t)` and `t.insert()/update()/delete()`, the
kernel's `upsert_add(conn, t, …)`, `insert_ignore(conn, t, …)`, `upsert_add_sql(t, …)`,
`insert_ignore_sql(t, …)`, and SQL text (`INSERT … INTO t`, `UPDATE t SET`, `DELETE FROM t`,
`COPY t`, `TRUNCATE t`; ON CONFLICT clauses belong to their INSERT). Table arguments are
resolved in the module's namespace; one that cannot be (a local variable) must be listed in
DYNAMIC with the tables it may be. Database triggers are declared by their owner (usage owns the
ones that keep `usage_daily`, see usage/tables.py).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table

import creditgate
from creditgate.tables import metadata

SRC = Path(creditgate.__file__).resolve().parent
# (module, table expression) -> the tables it may name, for writes through a variable.
DYNAMIC: dict[tuple[str, str], set[str]] = {
    ("creditgate.usage.service", "buckets"): {"usage_spend_hours", "usage_spend_days"},
}
_BUILDERS = {"insert", "update", "delete"}
# Kernel helpers that write the table they are given, and the position of that argument.
_HELPERS = {"upsert_add": 1, "insert_ignore": 1, "upsert_add_sql": 0, "insert_ignore_sql": 0}
_SQL_WRITES = [re.compile(p, re.IGNORECASE) for p in (
    r"\bINTO\s+(\w+|\{\})", r"\bUPDATE\s+(\w+|\{\})\s+SET\b", r"\bDELETE\s+FROM\s+(\w+|\{\})",
    r"\bCOPY\s+(\w+|\{\})", r"\bTRUNCATE\s+(?:TABLE\s+)?(\w+|\{\})")]


@dataclass(frozen=True)
class Write:
    module: str
    line: int
    table: str | None  # None: the statement names its table at run time
    how: str

    @property
    def package(self) -> str:
        return package_of(self.module)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def source_modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC.parent).with_suffix("")
        # The gateway plugins run in the gateway's process and need its package (LiteLLM);
        # an import-linter contract forbids them every database module, so they write nothing.
        if relative.parts[1] in {"migrations", "__main__", "integrations"}:
            continue
        name = ".".join(relative.parts)
        yield name.removesuffix(".__init__"), path


def owners() -> dict[str, str]:
    """Table name -> the package that declares it."""
    declared: dict[str, list[str]] = {}
    for module, path in source_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and _name(node.func) == "Table" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                declared.setdefault(str(node.args[0].value), []).append(package_of(module))
    assert all(len(packages) == 1 for packages in declared.values()), declared
    return {table: packages[0] for table, packages in declared.items()}


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _text(node: ast.expr) -> str | None:
    """A string literal's text; in an f-string every replacement field reads as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}"
                       for v in node.values)
    return None


def _table(node: ast.expr, namespace: Mapping[str, Any]) -> str | None:
    """The table a Name or attribute chain designates in the module, or None."""
    if not isinstance(node, ast.Name | ast.Attribute):
        return None
    try:
        # A name or an attribute chain only (checked above): nothing is called.
        value = eval(compile(ast.Expression(node), "<table>", "eval"), dict(namespace))
    except Exception:
        return None
    return value.name if isinstance(value, Table) else None


def writes_in(module: str, source: str, namespace: Mapping[str, Any],
              tables: set[str]) -> list[Write]:
    """Every write the module's source makes, with the table it names (None if unknown)."""
    tree = ast.parse(source)
    # Docstrings, and the literal pieces of f-strings (read with their f-string).
    skip = _docstrings(tree) | {id(part) for joined in ast.walk(tree)
                                if isinstance(joined, ast.JoinedStr) for part in joined.values}
    builders = {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
                for alias in node.names if alias.name in _BUILDERS}
    found = []

    def add(node: ast.expr, table_node: ast.expr | None, how: str,
            table: str | None = None) -> None:
        if table is None and table_node is not None:
            table = _table(table_node, namespace)
            expression = ast.unparse(table_node)
            if table is None and (module, expression) in DYNAMIC:
                for dynamic in sorted(DYNAMIC[(module, expression)]):
                    found.append(Write(module, node.lineno, dynamic, how))
                return
        found.append(Write(module, node.lineno, table, how))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if isinstance(node.func, ast.Name) and name in builders and node.args:
                add(node, node.args[0], f"{name}()")
            elif (isinstance(node.func, ast.Attribute) and name in _BUILDERS and not node.args
                  and _table(node.func.value, namespace) is not None):
                add(node, node.func.value, f".{name}()")
            elif name in _HELPERS and len(node.args) > _HELPERS[name]:
                add(node, node.args[_HELPERS[name]], f"{name}()")
        elif isinstance(node, ast.Constant | ast.JoinedStr) and id(node) not in skip:
            text = _text(node)
            for pattern in _SQL_WRITES if text else ():
                for match in pattern.finditer(text or ""):
                    named = match.group(1)
                    if named == "{}":
                        add(node, None, f"SQL {match.group(0)!r}")
                    elif named.lower() in tables:
                        add(node, None, f"SQL {match.group(0)!r}", named.lower())
    return found


def all_writes() -> list[Write]:
    tables = set(owners())
    found = []
    for module, path in source_modules():
        namespace = vars(importlib.import_module(module))
        found += writes_in(module, path.read_text(), namespace, tables)
    return found


def violations(writes: list[Write], owner_of: Mapping[str, str]) -> list[str]:
    out = []
    for write in writes:
        if write.table is None:
            # The kernel's helpers take the table from their caller, whose call is checked.
            if write.package != "kernel":
                out.append(f"{write.module}:{write.line} {write.how} names no table the test "
                           "can resolve: name it, or list it in DYNAMIC")
        elif owner_of.get(write.table) != write.package:
            out.append(f"{write.module}:{write.line} {write.how} writes {write.table}, which "
                       f"belongs to {owner_of.get(write.table)}")
    return out


def test_every_table_has_one_declaring_package() -> None:
    owner_of = owners()
    assert set(owner_of) == set(metadata.tables)
    # The kernel keeps its own (server_secrets) and no domain's.
    assert {table for table, owner in owner_of.items() if owner == "kernel"} == {
        "server_secrets"}


def test_each_table_is_written_only_by_its_owner() -> None:
    writes = all_writes()
    assert violations(writes, owners()) == []
    # The scan sees the writes it must (a broken scan would find nothing and pass).
    seen = {(w.package, w.table) for w in writes}
    assert {("payments", "topups"), ("invoices", "invoices"), ("accounts", "accounts"),
            ("ledger", "ledger_entries"), ("usage", "usage_events"), ("usage", "usage_rollups"),
            ("usage", "usage_spend_hours"), ("usage", "usage_spend_days"),
            ("limits", "authorizations"), ("limits", "account_limits"), ("worker", "jobs"),
            ("reporting", "billing_profiles"), ("kernel", "server_secrets")} <= seen


def test_every_dynamic_entry_is_still_needed() -> None:
    unresolved = set()
    for module, path in source_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _name(node.func) in _HELPERS:
                position = _HELPERS[str(_name(node.func))]
                if len(node.args) > position:
                    unresolved.add((module, ast.unparse(node.args[position])))
    assert set(DYNAMIC) <= unresolved


# Writes planted in a package's source must be reported (the check can fail).
PLANTED = {
    "reporting voids an invoice": (
        "creditgate.reporting.reports",
        "conn.execute(update(invoices).where(invoices.c.id == 'x').values(status='void'))",
        "writes invoices, which belongs to invoices"),
    "ledger moves the balance in SQL": (
        "creditgate.ledger.service",
        "Sql('UPDATE accounts SET balance_microcents = 0 WHERE id = :id')",
        "writes accounts, which belongs to accounts"),
    "limits upserts a spend bucket": (
        "creditgate.limits.spend",
        "upsert_add(conn, usage_tables.spend_hours, [], key=[], add=[])",
        "writes usage_spend_hours, which belongs to usage"),
    "payments inserts an invoice row": (
        "creditgate.payments.topups", "conn.execute(invoice_table.insert().values(id='x'))",
        "writes invoices, which belongs to invoices"),
    "invoices deletes rollups in an f-string": (
        "creditgate.invoices.closing", "conn.exec_driver_sql(f'DELETE FROM usage_rollups {x}')",
        "writes usage_rollups, which belongs to usage"),
    "a write through a variable": (
        "creditgate.reporting.profile", "conn.execute(insert(some_table).values())",
        "names no table the test can resolve"),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_a_planted_write_to_another_packages_table_is_reported(case: str) -> None:
    module, statement, expected = PLANTED[case]
    from creditgate.invoices.tables import invoices
    from creditgate.usage import tables as usage_tables

    namespace = {**vars(importlib.import_module(module)), "usage_tables": usage_tables,
                 "invoice_table": invoices}
    source = ("from sqlalchemy import insert, update\n\n\ndef planted(conn, x):\n"
              f"    {statement}\n")
    [problem] = violations(writes_in(module, source, namespace, set(owners())), owners())
    assert expected in problem, problem
