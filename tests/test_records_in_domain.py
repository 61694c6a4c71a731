"""Every stored record is a domain record (issue 15 §1): each class the database maps is a
plain dataclass from ``datatrust.domain``, so no table module borrows a record from
services (as ``Order``, ``Payout`` and eight others once were)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.orm import registry

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
