"""Every stored record is a domain record (issue 15 §1): each class the database maps is a
plain dataclass from ``datatrust.domain``, so no table module borrows a record from
services (as ``Order``, ``Payout`` and eight others once were). And the columns a record
reads from its own JSON stay in step with it: nothing outside ``domain/`` assigns an
item's report, so ``Item.write_report`` always sets its language and quality score too."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.orm import registry

import datatrust
from datatrust.adapters.db.tables import map_domain
from datatrust.adapters.db.tables.base import mapper_registry


def records_outside_domain(mapped: registry) -> list[str]:
    return sorted(
        f"{m.class_.__module__}.{m.class_.__qualname__}"
        for m in mapped.mappers
        if not m.class_.__module__.startswith("datatrust.domain.")
    )


def test_every_mapped_class_is_a_domain_record():
    map_domain()
    assert len(mapper_registry.mappers) >= 40  # every table module's records were mapped
    assert records_outside_domain(mapper_registry) == []


def test_the_check_names_a_record_mapped_from_outside_domain():
    @dataclass
    class Stray:
        id: int | None = None

    elsewhere = registry(metadata=MetaData())
    table = Table("strays", elsewhere.metadata, Column("id", Integer, primary_key=True))
    elsewhere.map_imperatively(Stray, table)
    assert records_outside_domain(elsewhere) == [f"{__name__}.{Stray.__qualname__}"]


def report_assignments(source: str) -> list[int]:
    """Lines that assign the ``report`` of an object other than the class's own
    (``self.report``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "report"
                and not (isinstance(target.value, ast.Name) and target.value.id == "self")
            ):
                lines.append(node.lineno)
    return lines


def test_nothing_outside_domain_assigns_an_items_report_apart_from_its_columns():
    root = Path(datatrust.__file__).parent
    found = [
        f"{path.relative_to(root)}:{line}"
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).parts[0] != "domain"
        for line in report_assignments(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_the_report_check_names_an_assignment_but_not_a_class_setting_its_own():
    source = "item.report = {}\nself.report = report\nrow.report: dict = {}\n"
    assert report_assignments(source) == [1, 3]
