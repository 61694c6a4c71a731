"""Tables for the in-app inbox and each person's notification choices (migration 0030)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, Table, UniqueConstraint

from datatrust.adapters.db.tables.base import TZ, mapper_registry, metadata, string_enum
from datatrust.domain.notifications import NoticeKind, Notification, NotificationSetting

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("kind", string_enum(NoticeKind, "notice_kind"), nullable=False),
    Column("params", JSON, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("read_at", TZ),
    # The inbox, newest first, and its unread count: both by person.
    Index("ix_notifications_user_id_id", "user_id", "id"),
    Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
)

notification_settings = Table(
    "notification_settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False),
    Column("kind", string_enum(NoticeKind, "notice_kind"), nullable=False),
    Column("by_mail", Boolean, nullable=False),
    UniqueConstraint("user_id", "kind", name="uq_notification_settings_user_kind"),
)


def map_notifications() -> None:
    """Called once from ``tables.map_domain``."""
    mapper_registry.map_imperatively(Notification, notifications)
    mapper_registry.map_imperatively(NotificationSetting, notification_settings)
