"""What every table module shares: the ``metadata`` (its naming convention), the
registry that maps domain classes imperatively (the domain stays plain Python), and
the column types for moments and string enums."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Enum, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator

from datatrust.domain.clock import as_utc

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
mapper_registry = registry(metadata=metadata)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, always read back as an aware UTC datetime. PostgreSQL keeps the zone
    (timestamptz); SQLite has no zone type and handed back naive datetimes, which the API
    then sent without an offset (not an RFC 3339 ``date-time``) and which compared
    unequal to aware ones. Aware values are stored in UTC, so SQLite's text keeps order."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


TZ = UtcDateTime()


def string_enum(enum_cls: type, name: str) -> Enum:
    # Stored as plain strings (no native enum type) so adding a value needs no DDL dance.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )
