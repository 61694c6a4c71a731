"""The migrations and the table metadata describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import DateTime, bindparam, inspect, text
from sqlalchemy.orm import Session

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.adapters.db.tables import map_domain, metadata
from datatrust.domain.items import Item, ReviewDecider
from datatrust.domain.orders import AgreementRow


def differences(engine) -> list:
    map_domain()  # registers every table module's tables on the metadata
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def insert_user(connection, role: str, at: str) -> None:
    """User 1, written with plain SQL (the schema of a past revision, not the metadata)."""
    connection.exec_driver_sql(
        "INSERT INTO users (id, email, password_hash, role, display_name, language, "
        f"created_at) VALUES (1, '{role}@example.org', 'x', '{role}', '', 'en', '{at}')"
    )


def test_the_migrations_build_exactly_the_schema_the_metadata_describes(migrated_engine):
    assert differences(migrated_engine) == []


def test_migration_0002_adds_licences_and_consent_and_can_be_undone(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0002")
        tables = set(inspect(engine).get_table_names())
        assert {"licence_offers", "consent_records", "consent_events", "consent_receipts"} <= tables
        columns = {c["name"] for c in inspect(engine).get_columns("items")}
        assert {"licence_id", "consent_id"} <= columns

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        inspector = inspect(engine)
        assert "consent_records" not in inspector.get_table_names()
        assert "licence_id" not in {c["name"] for c in inspector.get_columns("items")}

        migrate.upgrade(engine, "0002")
        assert migrate.current_revision(engine) == "0002"
    finally:
        engine.dispose()


def test_migration_0008_mirrors_each_items_consent_record_onto_the_item(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0007")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            c.exec_driver_sql(
                "INSERT INTO licence_offers (id, owner_id, version, status, licence, is_default, "
                f"created_at) VALUES (5, 1, 1, 'active', '{{}}', false, '{at}')"
            )
            for item_id, consent_id in [(1, 11), (2, None), (3, 99)]:  # 99: no such record
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    "updated_at, licence_id, consent_id) VALUES "
                    f"({item_id}, 1, 'photo', 'listed', '', 'f', 'image/jpeg', 1, 'k', 's', "
                    f"'{{}}', '{at}', '{at}', 5, {consent_id or 'NULL'})"
                )
            c.exec_driver_sql(
                "INSERT INTO consent_records (id, uid, owner_id, item_id, offer_id, state, "
                f"fields, created_at, updated_at) VALUES (11, 'u', 1, 1, 5, 'withdrawn', '{{}}', "
                f"'{at}', '{at}')"
            )
        migrate.upgrade(engine, "0008")
        with engine.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT id, consent_offer_id, consent_state FROM items ORDER BY id"
            ).all()
        assert [tuple(r) for r in rows] == [(1, 5, "withdrawn"), (2, None, None), (3, None, None)]
        assert "ix_items_selection" in {i["name"] for i in inspect(engine).get_indexes("items")}
    finally:
        engine.dispose()


def test_migration_0011_gives_old_standard_campaigns_the_training_only_template(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0010")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "operator", at)
            for campaign_id, template in [(1, "standard"), (2, "research")]:
                c.exec_driver_sql(
                    "INSERT INTO campaigns (id, created_by, title, description, kind, spec, "
                    "pay_basis, rate_minor, currency, coverage_bonus_minor, quota, "
                    "review_window_days, licence_template, review_mode, state, created_at) "
                    f"VALUES ({campaign_id}, 1, 't', '', 'photo', '{{}}', 'per_item', 100, "
                    f"'USD', 0, 1, 7, '{template}', 'operator', 'draft', '{at}')"
                )
        migrate.upgrade(engine, "0011")
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT id, licence_template FROM campaigns ORDER BY id")
            assert [tuple(r) for r in rows] == [(1, "training_only"), (2, "research")]
    finally:
        engine.dispose()


def test_migration_0013_returns_accepted_items_with_nothing_to_deliver_to_processed(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0012")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for item_id, status, deid in [
                (1, "accepted", None),
                (2, "accepted", "d"),
                (3, "listed", "d"),
                (4, "rejected", None),
            ]:
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    "updated_at, deidentified_key) VALUES "
                    f"({item_id}, 1, 'call', '{status}', '', 'f', 'audio/ogg', 1, 'k', 's', "
                    f"'{{}}', '{at}', '{at}', {repr(deid) if deid else 'NULL'})"
                )
        migrate.upgrade(engine, "0013")
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT id, status FROM items ORDER BY id").all()
        assert [tuple(r) for r in rows] == [
            (1, "processed"),
            (2, "accepted"),
            (3, "listed"),
            (4, "rejected"),
        ]
    finally:
        engine.dispose()


def test_migration_0016_seals_personal_fields_and_keys_content_hashes(databases):
    import hashlib
    import os

    from datatrust.adapters.crypto import AesGcmCipher

    master = os.urandom(32)
    cipher = AesGcmCipher(master)
    wrapped = cipher.new_wrapped_key()
    raw = hashlib.sha256(b"upload").hexdigest()
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0015")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            c.exec_driver_sql(
                "INSERT INTO users (id, email, password_hash, role, display_name, language, "
                f"created_at) VALUES (2, 'gone@invalid', '!', 'contributor', '', 'en', '{at}')"
            )
            c.execute(
                text(
                    "INSERT INTO contributor_keys (owner_id, wrapped_key, created_at, "
                    "destroyed_at) VALUES (1, :k, :at, NULL), (2, :e, :at, :at)"
                ),
                {"k": wrapped, "e": b"", "at": at},
            )
            for item_id, owner in [(1, 1), (2, 2)]:
                c.execute(
                    text(
                        "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                        "content_type, size, original_key, original_sha256, report, "
                        "fingerprints, created_at, updated_at) VALUES (:id, :owner, 'chat', "
                        "'listed', :title, 'Asha chat.txt', 'text/plain', 1, 'k', :raw, "
                        ":report, '{}', :at, :at)"
                    ),
                    {
                        "id": item_id,
                        "owner": owner,
                        "title": "Asha at home" if owner == 1 else "",
                        "raw": raw,
                        "report": '{"upload": {"me": "Asha Rao"}}',
                        "at": at,
                    },
                )
        migrate.upgrade(engine, master_key=master)
        with engine.connect() as c:
            rows = c.execute(
                text("SELECT title, filename, original_sha256, report, fingerprints FROM items")
            ).all()
        (title, filename, content_id, report, _), erased = rows
        assert cipher.open_field(wrapped, title) == "Asha at home"
        assert cipher.open_field(wrapped, filename) == "Asha chat.txt"
        me = (
            json.loads(report)["upload"]["me"]
            if isinstance(report, str)
            else report["upload"]["me"]
        )
        assert cipher.open_field(wrapped, me) == "Asha Rao"
        assert content_id == cipher.content_id(raw) != raw
        assert erased.original_sha256 == "" and erased.fingerprints is None  # erased before
    finally:
        engine.dispose()


def test_migration_0020_numbers_each_buyers_notices_in_the_order_they_were_made(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0019")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for org_id in (1, 2):
                c.exec_driver_sql(
                    "INSERT INTO organisations (id, legal_name, country, website, contact_email, "
                    f"intended_uses, status, status_reason, created_at) VALUES ({org_id}, "
                    f"'Org {org_id}', 'GB', '', '', '{{}}', 'approved', '', '{at}')"
                )
            for item_id in (1, 2, 3):
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    f"updated_at) VALUES ({item_id}, 1, 'photo', 'withdrawn', '', 'f', "
                    f"'image/jpeg', 1, 'k', 's', '{{}}', '{at}', '{at}')"
                )
            for notice_id, org_id, item_id in [(1, 2, 1), (2, 1, 2), (3, 2, 3), (4, 1, 1)]:
                c.exec_driver_sql(
                    "INSERT INTO revocations (id, org_id, item_id, content_sha256, reason, "
                    f"noticed_at, deadline, late) VALUES ({notice_id}, {org_id}, {item_id}, "
                    f"'h', 'withdrawn', '{at}', '{at}', false)"
                )
        migrate.upgrade(engine, "0020")
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT id, org_id, seq FROM revocations ORDER BY id").all()
        assert [tuple(r) for r in rows] == [(1, 2, 1), (2, 1, 1), (3, 2, 2), (4, 1, 2)]
    finally:
        engine.dispose()


def test_migration_0022_keys_each_licence_offer_by_its_licences_own_id(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0021")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for offer_id, licence_id, version in [
                (1, "lic-a", 1),
                (2, "lic-a", 2),
                (3, "lic-b", 1),
            ]:
                body = json.dumps({"id": licence_id, "version": version})
                c.exec_driver_sql(
                    "INSERT INTO licence_offers (id, owner_id, version, status, licence, "
                    f"is_default, created_at) VALUES ({offer_id}, 1, {version}, 'active', "
                    f"'{body}', false, '{at}')"
                )
        migrate.upgrade(engine, "0022")
        with engine.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT id, licence_key, version FROM licence_offers ORDER BY id"
            ).all()
        assert [tuple(r) for r in rows] == [(1, "lic-a", 1), (2, "lic-a", 2), (3, "lic-b", 1)]
    finally:
        engine.dispose()


def test_migration_0025_seals_totp_secrets_written_in_clear(databases):
    """An operator without a data key gets one; a buyer's secret is sealed under the key
    it has; an erased person's secret (key destroyed) is removed with two-step sign-in."""
    import os

    import pyotp

    from datatrust.adapters.crypto import AesGcmCipher

    master = os.urandom(32)
    cipher = AesGcmCipher(master)
    buyer_key = cipher.new_wrapped_key()
    secrets = {n: pyotp.random_base32() for n in (1, 2, 3)}
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0024")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            for user_id, role in [(1, "operator"), (2, "buyer"), (3, "buyer")]:
                c.execute(
                    text(
                        "INSERT INTO users (id, email, password_hash, role, display_name, "
                        "language, created_at, totp_secret, totp_enabled_at) VALUES "
                        "(:id, :email, 'x', :role, '', 'en', :at, :secret, :at)"
                    ),
                    {
                        "id": user_id,
                        "email": f"u{user_id}@example.org",
                        "role": role,
                        "at": at,
                        "secret": secrets[user_id],
                    },
                )
            c.execute(
                text(
                    "INSERT INTO contributor_keys (owner_id, wrapped_key, created_at, "
                    "destroyed_at) VALUES (2, :k, :at, NULL), (3, :e, :at, :at)"
                ),
                {"k": buyer_key, "e": b"", "at": at},
            )
        migrate.upgrade(engine, master_key=master)
        with engine.connect() as c:
            users = c.execute(
                text("SELECT id, totp_secret, totp_enabled_at FROM users ORDER BY id")
            ).all()
            keys = dict(c.execute(text("SELECT owner_id, wrapped_key FROM contributor_keys")).all())
        operator, buyer, erased = users
        for row in (operator, buyer):
            assert row.totp_secret.startswith("dtf1.") and secrets[row.id] not in row.totp_secret
        assert cipher.open_field(bytes(keys[1]), operator.totp_secret) == secrets[1]
        assert cipher.open_field(buyer_key, buyer.totp_secret) == secrets[2]
        assert erased.totp_secret is None and erased.totp_enabled_at is None
    finally:
        engine.dispose()


def test_migration_0027_removes_the_raw_upload_hash_from_every_items_fingerprints(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0026")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for item_id, fingerprints in [
                (1, {"sha256_original": "ab" * 32, "sha256_output": "cd" * 32, "phash": "8f"}),
                (2, {"sha256_output": "ef" * 32}),
                (3, None),
            ]:
                c.execute(
                    text(
                        "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                        "content_type, size, original_key, original_sha256, report, "
                        "fingerprints, created_at, updated_at) VALUES (:id, 1, 'photo', "
                        "'listed', '', 'f', 'image/jpeg', 1, 'k', 's', '{}', :fp, :at, :at)"
                    ),
                    {"id": item_id, "fp": json.dumps(fingerprints), "at": at},
                )
        migrate.upgrade(engine, "0027")
        with engine.connect() as c:
            stored = c.exec_driver_sql("SELECT fingerprints FROM items ORDER BY id").scalars()
            rows = [json.loads(v) if isinstance(v, str) else v for v in stored]
        assert rows == [
            {"sha256_output": "cd" * 32, "phash": "8f"},
            {"sha256_output": "ef" * 32},
            None,
        ]
    finally:
        engine.dispose()


def test_migration_0029_moves_each_items_review_out_of_its_report_and_back(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0028")
        at = "2026-01-01 00:00:00"
        due = "2026-01-08T00:00:00+00:00"
        reports = {
            1: {"campaign": {"id": 5, "review": "waiting", "review_due": due, "rate_minor": 250}},
            2: {"campaign": {"id": 5, "review": "waiting_for_escrow", "review_due": due}},
            3: {"campaign": {"id": 5, "review": "accepted", "review_due": due}, "verdict": "x"},
            4: {"verdict": "accepted"},  # in a campaign, but never reviewed by it
            5: {},  # no campaign at all
        }
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for item_id, report in reports.items():
                campaign = 5 if item_id < 5 else "NULL"
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    "updated_at, campaign_id) VALUES "
                    f"({item_id}, 1, 'photo', 'accepted', '', 'f', 'image/jpeg', 1, 'k', 's', "
                    f"'{json.dumps(report)}', '{at}', '{at}', {campaign})"
                )
        migrate.upgrade(engine, "0029")
        with engine.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT id, review_state, review_due, report FROM items ORDER BY id"
            ).all()
        moved = {
            r[0]: (r[1], r[2], r[3] if isinstance(r[3], dict) else json.loads(r[3])) for r in rows
        }
        assert [moved[i][0] for i in range(1, 6)] == [
            "waiting",
            "waiting_for_escrow",
            "accepted",
            None,
            None,
        ]
        assert moved[1][2] == {"campaign": {"id": 5, "rate_minor": 250}}
        assert moved[3][2] == {"campaign": {"id": 5}, "verdict": "x"}
        assert moved[4][2] == reports[4] and moved[5][2] == reports[5]
        assert "ix_items_review_due" in {i["name"] for i in inspect(engine).get_indexes("items")}
        # The overdue query the application runs reads the moved moments in order.
        with engine.connect() as c:
            overdue = (
                c.execute(
                    text(
                        "SELECT id FROM items WHERE review_due <= :now "
                        "AND review_state IN ('waiting', 'waiting_for_escrow') ORDER BY id"
                    ).bindparams(bindparam("now", type_=DateTime(timezone=True))),
                    {"now": datetime(2026, 1, 8, tzinfo=UTC)},
                )
                .scalars()
                .all()
            )
            early = c.execute(
                text("SELECT count(*) FROM items WHERE review_due <= :now").bindparams(
                    bindparam("now", type_=DateTime(timezone=True))
                ),
                {"now": datetime(2026, 1, 7, 23, 59, tzinfo=UTC)},
            ).scalar()
        assert overdue == [1, 2] and early == 0

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0028")
        with engine.connect() as c:
            back = {
                r[0]: r[1] if isinstance(r[1], dict) else json.loads(r[1])
                for r in c.exec_driver_sql("SELECT id, report FROM items ORDER BY id")
            }
        assert back == reports
        assert "review_state" not in {c["name"] for c in inspect(engine).get_columns("items")}
    finally:
        engine.dispose()


def test_migration_0031_keeps_where_each_withdrawn_item_stood_as_far_as_its_columns_show(
    databases,
):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0030")
        at = "2026-01-01 00:00:00"
        # id: (status, filename, de-identified key, review state)
        items = {
            1: ("withdrawn", "dtf1.x", "d", "accepted"),  # accepted by its review: listed
            2: ("withdrawn", "dtf1.x", "d", "waiting"),  # waiting for its review: accepted
            3: ("withdrawn", "dtf1.x", "d", None),  # processed outside a campaign: accepted
            4: ("withdrawn", "erased", "d", "accepted"),  # deleted: its files are gone
            5: ("withdrawn", "dtf1.x", None, None),  # never passed its checks
            6: ("withdrawn", "dtf1.x", "d", "rejected"),  # rejected by its review
            7: ("listed", "dtf1.x", "d", "accepted"),  # not withdrawn
        }
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for item_id, (status, filename, deid, review) in items.items():
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    "updated_at, deidentified_key, review_state) VALUES "
                    f"({item_id}, 1, 'photo', '{status}', '', '{filename}', 'image/jpeg', 1, "
                    f"'k', 's', '{{}}', '{at}', '{at}', {repr(deid) if deid else 'NULL'}, "
                    f"{repr(review) if review else 'NULL'})"
                )
        migrate.upgrade(engine, "0031")
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT id, withdrawn_from FROM items ORDER BY id").all()
        assert dict(tuple(r) for r in rows) == {
            1: "listed",
            2: "accepted",
            3: "accepted",
            4: None,
            5: None,
            6: None,
            7: None,
        }
        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0030")
        assert "withdrawn_from" not in {c["name"] for c in inspect(engine).get_columns("items")}
    finally:
        engine.dispose()


def test_migration_0032_moves_each_items_pay_terms_and_outcome_out_of_its_report_and_back(
    databases,
):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0031")
        at = "2026-01-01 00:00:00"
        base = {"id": 5, "review_mode": "peer", "currency": "USD", "pay_basis": "per_item"}
        reports = {
            # Waiting, an ambient item promised a coverage bonus.
            1: {"campaign": {**base, "rate_minor": 250, "coverage_bonus_minor": 50}},
            # Accepted by peers, its work and its bonus paid in two entries.
            2: {
                "campaign": {
                    **base,
                    "rate_minor": 250,
                    "coverage_bonus_minor": 50,
                    "reviewed_by": "peers",
                    "paid_minor": 250,
                    "coverage_bonus_paid_minor": 50,
                },
                "verdict": "accepted",
            },
            # Accepted by its window but escrow could not pay it yet.
            3: {"campaign": {**base, "rate_minor": 300, "escrow_shortfall_minor": 30}},
            # Values no column can hold stay where they are.
            4: {"campaign": {**base, "rate_minor": "2.50", "reviewed_by": "someone"}},
            5: {"verdict": "accepted"},  # in a campaign, but never reviewed by it
            6: {"campaign": {**base, "rate_minor": 99}},  # no campaign: left alone
        }
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for item_id, report in reports.items():
                campaign = 5 if item_id < 6 else "NULL"
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    "updated_at, campaign_id) VALUES "
                    f"({item_id}, 1, 'ambient', 'accepted', '', 'f', 'audio/wav', 1, 'k', 's', "
                    f"'{json.dumps(report)}', '{at}', '{at}', {campaign})"
                )
        migrate.upgrade(engine, "0032")
        columns = (
            "terms_rate_minor, terms_bonus_minor, reviewed_by, paid_minor, bonus_paid_minor, "
            "escrow_shortfall_minor"
        )
        with engine.connect() as c:
            rows = c.exec_driver_sql(f"SELECT id, {columns}, report FROM items ORDER BY id").all()
        typed = {r[0]: tuple(r[1:7]) for r in rows}
        moved = {r[0]: r[7] if isinstance(r[7], dict) else json.loads(r[7]) for r in rows}
        assert typed == {
            1: (250, 50, None, None, None, None),
            2: (250, 50, "peers", 250, 50, None),
            3: (300, None, None, None, None, 30),
            4: (None, None, None, None, None, None),
            5: (None, None, None, None, None, None),
            6: (None, None, None, None, None, None),
        }
        assert moved[1] == moved[3] == {"campaign": base}
        assert moved[2] == {"campaign": base, "verdict": "accepted"}
        assert moved[4] == reports[4] and moved[5] == reports[5] and moved[6] == reports[6]

        # The application reads them as typed values.
        migrate.upgrade(engine, "head")
        map_domain()
        with Session(engine) as session:
            paid = session.get(Item, 2)
            assert paid is not None and paid.reviewed_by is ReviewDecider.PEERS
            assert (paid.paid_minor, paid.bonus_paid_minor) == (250, 50)

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0031")
        with engine.connect() as c:
            back = {
                r[0]: r[1] if isinstance(r[1], dict) else json.loads(r[1])
                for r in c.exec_driver_sql("SELECT id, report FROM items ORDER BY id")
            }
        assert back == reports
        assert "paid_minor" not in {c["name"] for c in inspect(engine).get_columns("items")}
    finally:
        engine.dispose()


def test_migration_0033_gives_each_agreement_its_licences_end_as_a_column_and_back(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0032")
        at = "2026-01-01 00:00:00"
        licences = {
            1: {"id": "l", "valid_until": "2027-01-01T00:00:00+00:00"},
            2: {"id": "l", "valid_until": "2027-01-01T02:00:00+02:00"},  # the same moment
            3: {"id": "l", "valid_until": "2026-06-01T12:00:00"},  # no offset: UTC
            4: {"id": "l"},  # names no end
            5: {"id": "l", "valid_until": "soon"},  # not a moment
        }
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            c.exec_driver_sql(
                "INSERT INTO organisations (id, legal_name, country, website, contact_email, "
                f"intended_uses, status, status_reason, created_at) VALUES (1, 'Ada Lab', 'GB', "
                f"'', '', '{{}}', 'approved', '', '{at}')"
            )
            c.exec_driver_sql(
                "INSERT INTO licence_offers (id, owner_id, version, status, licence, is_default, "
                f"created_at, licence_key) VALUES (1, 1, 1, 'active', '{{}}', false, '{at}', 'l')"
            )
            c.exec_driver_sql(
                "INSERT INTO orders (id, org_id, created_by, use, item_ids, excluded, reasons, "
                f"quote, state, created_at) VALUES (1, 1, 1, '{{}}', '[]', 0, '{{}}', '{{}}', "
                f"'purchased', '{at}')"
            )
            for n, licence in licences.items():
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    f"updated_at) VALUES ({n}, 1, 'photo', 'listed', '', 'f', 'image/jpeg', 1, "
                    f"'k', 's', '{{}}', '{at}', '{at}')"
                )
                c.exec_driver_sql(
                    "INSERT INTO agreements (id, order_id, org_id, item_id, contributor_id, "
                    "offer_id, licence, use, price_minor, fee_minor, contributor_share_minor, "
                    f"currency, content_sha256, agreed_at) VALUES ({n}, 1, 1, {n}, 1, 1, "
                    f"'{json.dumps(licence)}', '{{}}', 100, 0, 80, 'USD', 's', '{at}')"
                )
        migrate.upgrade(engine, "0033")
        assert "ix_agreements_valid_until" in {
            i["name"] for i in inspect(engine).get_indexes("agreements")
        }

        def ended(now: datetime) -> list[int]:
            # The query the deadline check runs, on the moments the migration wrote.
            query = text(
                "SELECT id FROM agreements WHERE valid_until <= :now ORDER BY id"
            ).bindparams(bindparam("now", type_=DateTime(timezone=True)))
            with engine.connect() as c:
                return list(c.execute(query, {"now": now}).scalars())

        assert ended(datetime(2027, 1, 1, tzinfo=UTC)) == [1, 2, 3]
        assert ended(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == [3]
        assert ended(datetime(2026, 6, 1, 11, 59, tzinfo=UTC)) == []
        map_domain()  # the application reads them as moments in UTC
        with Session(engine) as session:
            read = {n: session.get(AgreementRow, n) for n in licences}
            assert {n: a.valid_until for n, a in read.items() if a} == {
                1: datetime(2027, 1, 1, tzinfo=UTC),
                2: datetime(2027, 1, 1, tzinfo=UTC),
                3: datetime(2026, 6, 1, 12, tzinfo=UTC),
                4: None,
                5: None,
            }

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0032")
        with engine.connect() as c:
            back = {
                r[0]: r[1] if isinstance(r[1], dict) else json.loads(r[1])
                for r in c.exec_driver_sql("SELECT id, licence FROM agreements ORDER BY id")
            }
        assert back == licences
        assert "valid_until" not in {c["name"] for c in inspect(engine).get_columns("agreements")}
    finally:
        engine.dispose()


def test_migration_0034_reads_each_items_language_and_quality_score_from_its_report(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0033")
        at = "2026-01-01 00:00:00"
        reports = {
            1: {"language": "en", "quality": {"score": 0.9, "figures": {"blur": 3}}},
            2: {"campaign": {"id": 5, "language": "hi"}, "quality": {"score": 1}},
            3: {"language": "zu", "campaign": {"language": "hi"}},  # its own comes first
            4: {"language": 7, "quality": {"score": "high"}},  # neither readable
            5: {"quality": []},
            6: {},
        }
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for item_id, report in reports.items():
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    f"updated_at) VALUES ({item_id}, 1, 'photo', 'listed', '', 'f', "
                    f"'image/jpeg', 1, 'k', 's', '{json.dumps(report)}', '{at}', '{at}')"
                )
        migrate.upgrade(engine, "0034")
        with engine.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT id, language, quality_score, report FROM items ORDER BY id"
            ).all()
            good = c.exec_driver_sql(
                "SELECT id FROM items WHERE status = 'listed' AND quality_score >= 0.9 ORDER BY id"
            ).all()
        assert {r[0]: (r[1], r[2]) for r in rows} == {
            1: ("en", 0.9),
            2: ("hi", 1.0),
            3: ("zu", None),
            4: (None, None),
            5: (None, None),
            6: (None, None),
        }
        # The reports are left as they were: the owner reads them.
        assert {r[0]: r[3] if isinstance(r[3], dict) else json.loads(r[3]) for r in rows} == (
            reports
        )
        assert [r[0] for r in good] == [1, 2]
        indexes = {i["name"] for i in inspect(engine).get_indexes("items")}
        assert {"ix_items_status_language", "ix_items_status_quality_score"} <= indexes

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0033")
        columns = {c["name"] for c in inspect(engine).get_columns("items")}
        assert not columns & {"language", "quality_score"}
    finally:
        engine.dispose()


def test_migration_0035_drops_each_reports_campaign_copy_the_view_rebuilds_and_back(databases):
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0034")
        at = "2026-01-01 00:00:00"
        peer = {"id": 5, "review_mode": "peer", "currency": "USD", "pay_basis": "per_item"}
        operator = {
            "id": 6,
            "review_mode": "operator",
            "currency": "INR",
            "pay_basis": "per_minute",
            "review_queue": "operator",
        }
        # id: (campaign, review state, file name, report)
        items = {
            1: (5, "waiting", "f", {"campaign": peer, "verdict": "accepted"}),
            2: (6, "accepted", "f", {"campaign": operator}),
            3: (5, "accepted", "f", {"campaign": {**peer, "rate_minor": "2.50"}}),  # its own key
            4: (5, "waiting", "f", {"campaign": {**peer, "currency": "EUR"}}),  # not the campaign's
            5: (5, None, "f", {"campaign": peer}),  # never reviewed: no columns to rebuild from
            6: (5, "rejected", "erased", {}),  # erased
            7: (None, None, "f", {"verdict": "accepted"}),  # no campaign
        }
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            for campaign_id, mode, currency, basis in (
                (5, "peer", "USD", "per_item"),
                (6, "operator", "INR", "per_minute"),
            ):
                c.exec_driver_sql(
                    "INSERT INTO campaigns (id, created_by, title, description, kind, spec, "
                    "pay_basis, rate_minor, currency, coverage_bonus_minor, quota, "
                    "review_window_days, licence_template, review_mode, state, created_at) "
                    f"VALUES ({campaign_id}, 1, 't', '', 'photo', '{{}}', '{basis}', 250, "
                    f"'{currency}', 0, 10, 7, 'training_only', '{mode}', 'open', '{at}')"
                )
            for item_id, (campaign, review, filename, report) in items.items():
                c.exec_driver_sql(
                    "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                    "content_type, size, original_key, original_sha256, report, created_at, "
                    "updated_at, campaign_id, review_state) VALUES "
                    f"({item_id}, 1, 'photo', 'accepted', '', '{filename}', 'image/jpeg', 1, "
                    f"'k', 's', '{json.dumps(report)}', '{at}', '{at}', "
                    f"{campaign or 'NULL'}, {repr(review) if review else 'NULL'})"
                )

        def reports() -> dict[int, dict]:
            with engine.connect() as c:
                rows = c.exec_driver_sql("SELECT id, report FROM items ORDER BY id").all()
            return {r[0]: r[1] if isinstance(r[1], dict) else json.loads(r[1]) for r in rows}

        migrate.upgrade(engine, "0035")
        moved = reports()
        assert moved[1] == {"verdict": "accepted"} and moved[2] == {}
        assert all(moved[i] == items[i][3] for i in (3, 4, 5, 6, 7))

        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0034")
        assert reports() == {i: report for i, (*_, report) in items.items()}
    finally:
        engine.dispose()


def test_migration_0036_keeps_superseded_notices_beside_one_standing_notice_and_back(databases):
    """A buyer may hold a superseded notice and a later standing one for the same item,
    never two standing ones; downgrade restores the one-notice constraint when no notice
    was superseded."""
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0035")
        at = "2026-01-01 00:00:00"
        with engine.begin() as c:
            insert_user(c, "contributor", at)
            c.exec_driver_sql(
                "INSERT INTO organisations (id, legal_name, country, website, contact_email, "
                f"intended_uses, status, status_reason, created_at) VALUES (1, 'Org', 'GB', "
                f"'', '', '{{}}', 'approved', '', '{at}')"
            )
            c.exec_driver_sql(
                "INSERT INTO items (id, owner_id, kind, status, title, filename, "
                "content_type, size, original_key, original_sha256, report, created_at, "
                f"updated_at) VALUES (1, 1, 'photo', 'withdrawn', '', 'f', "
                f"'image/jpeg', 1, 'k', 's', '{{}}', '{at}', '{at}')"
            )
            c.exec_driver_sql(
                "INSERT INTO revocations (id, org_id, item_id, content_sha256, reason, "
                f"noticed_at, deadline, late, seq) VALUES (1, 1, 1, 'h', 'withdrawn', '{at}', "
                f"'{at}', false, 1)"
            )
        migrate.upgrade(engine, "0036")
        insert = (
            "INSERT INTO revocations (id, org_id, item_id, content_sha256, reason, noticed_at, "
            f"deadline, late, seq) VALUES (2, 1, 1, 'h', 'withdrawn', '{at}', '{at}', false, 2)"
        )
        try:
            with engine.begin() as c:
                c.exec_driver_sql(insert)
        except Exception as exc:  # the driver's IntegrityError
            assert "unique" in str(exc).lower()
        else:
            raise AssertionError("two standing notices for one buyer and item")
        with engine.begin() as c:
            c.exec_driver_sql(f"UPDATE revocations SET superseded_at = '{at}' WHERE id = 1")
            c.exec_driver_sql(insert)
        migrate.upgrade(engine, "head")
        assert differences(engine) == []

        config = migrate.alembic_config(engine)
        with engine.begin() as c:
            c.exec_driver_sql("DELETE FROM revocations WHERE id = 1")
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0035")
        with engine.connect() as c:
            assert [tuple(r) for r in c.exec_driver_sql("SELECT id, seq FROM revocations")] == [
                (2, 2)
            ]
    finally:
        engine.dispose()


def test_migration_0037_indexes_items_by_campaign_and_status_and_back(databases):
    """A campaign's quota count reads ix_items_campaign_status (its use:
    tests/services/test_campaign_quota_count.py); downgrade drops it."""
    engine = make_engine(databases.create())
    try:
        migrate.upgrade(engine, "0037")
        indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("items")}
        assert indexes["ix_items_campaign_status"] == ["campaign_id", "status"]
        config = migrate.alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0036")
        names = {i["name"] for i in inspect(engine).get_indexes("items")}
        assert "ix_items_campaign_status" not in names
    finally:
        engine.dispose()
