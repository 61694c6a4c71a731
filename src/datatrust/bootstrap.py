"""Wires settings → adapters → services. Entry points ask this module for a ``Services``."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# b64url_decode, read_keys and verify_jwks are re-exported (and flatten_jsonld below) for
# the offline checks the command line runs with no instance (a consent receipt or an audit
# checkpoint against keys kept elsewhere, an ODRL policy in any JSON-LD form): entry points
# reach adapters only through this module (the import contract in pyproject.toml).
from datatrust.adapters.crypto import AesGcmCipher, Ed25519Signer
from datatrust.adapters.crypto import b64url_decode as b64url_decode
from datatrust.adapters.crypto import read_keys as read_keys
from datatrust.adapters.crypto import verify_jwks as verify_jwks
from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import (
    PoolSettings,
    is_unavailable,
    make_engine,
    make_session_factory,
    ping,
)
from datatrust.adapters.db.shred import NullShredder, make_shredder
from datatrust.adapters.db.uow import SqlUnitOfWork
from datatrust.adapters.mail import make_mailer
from datatrust.adapters.objectstore import make_object_store
from datatrust.adapters.passwords import Argon2Hasher, CappedHasher
from datatrust.adapters.payments import make_payment_rail, make_payout_provider
from datatrust.adapters.queue import EmbeddedConsumer, HueyQueue, make_huey
from datatrust.adapters.webhooks import HttpWebhookTransport
from datatrust.config import Settings
from datatrust.domain.clock import utcnow
from datatrust.domain.jobs import OutboxJob, backoff
from datatrust.domain.policy import InstancePolicy
from datatrust.pipeline import fingerprint
from datatrust.services import jobs, scratch
from datatrust.services.contributions import WORK_DIR, Staging, sweep_staged
from datatrust.services.credentials import CredentialCache
from datatrust.services.handlers import job_registry
from datatrust.services.jobs import JobRegistry
from datatrust.services.licensing import Publication
from datatrust.services.money import PaymentRail, PayoutProvider
from datatrust.services.ports import (
    Mailer,
    ObjectStore,
    PasswordHasher,
    Shredder,
    Signer,
    WebhookTransport,
)
from datatrust.services.storage import EncryptedStorage

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
# A health check that limits what the instance does without stopping it (see /health).
MEDIA_TOOLS = "media_tools"


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]  # replaceable: tests bind it to one connection
    queue: HueyQueue
    store: ObjectStore
    storage: EncryptedStorage
    hasher: PasswordHasher
    signer: Signer
    mailer: Mailer
    # Money in (buyers' charges) and out (contributors' payouts), chosen by settings.
    payment_rail: PaymentRail
    payouts: PayoutProvider
    # What the operator decided about fees, pay floors, payouts and uses (from settings).
    policy: InstancePolicy
    # The job handlers this process runs (``services.handlers``, plus settings' plugins).
    jobs: JobRegistry
    # What erasure uses to clear old copies of rows from the database files (SQLite WAL).
    shredder: Shredder = field(default_factory=NullShredder)
    # Pushes revocation notices to buyers' webhooks (services.webhooks).
    webhooks: WebhookTransport = field(default_factory=HttpWebhookTransport)
    # Callers whose token or session was checked lately (``services.credentials``);
    # every unit of work tells it what its commit changed.
    credentials: CredentialCache[Any] = field(default_factory=lambda: CredentialCache(0))

    @property
    def publication(self) -> Publication:
        """This instance's IRIs and identity (``services.standards``)."""
        s = self.settings
        return Publication.create(
            s.base_url,
            s.secret_key.get_secret_value(),
            operator_name=s.operator_name,
            operator_email=s.operator_email,
            policy_url=s.privacy_policy_url,
        )

    def uow(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """A unit of work; ``read_only`` ones never take SQLite's write lock (they read a
        WAL snapshot beside the writer), so use them for requests that change nothing."""
        return SqlUnitOfWork(
            self.session_factory,
            self.queue,
            max_attempts=self.settings.job_max_attempts,
            read_only=read_only,
            on_commit=self.credentials.changed,
        )

    def run_job(self, job_id: int) -> str:
        return jobs.run_job(
            self.uow,
            job_id,
            self.jobs,
            lease_seconds=self.settings.job_lease_seconds,
            services=self,
        )

    def sweep(self) -> jobs.SweepReport:
        """The periodic sweep (every minute, in every consumer): what dead processes left
        on this machine's disk, then jobs whose worker died."""
        self.sweep_leftovers()
        return jobs.sweep(self.uow, self.queue, self.jobs)

    @property
    def staging(self) -> Staging:
        """The folder of partial uploads (tus)."""
        return Staging(self.settings.data_dir / "uploads")

    def _sweep_staged(self) -> int:
        if not self.staging.ids():
            return 0  # no transaction at all (the usual case)
        with self.uow() as uow:
            return sweep_staged(uow, self.staging)

    def sweep_leftovers(self) -> int:
        """Delete the scratch folders of workers and the object store's temporary files
        of writers that died (killed, out of memory) on this machine, and the staged bytes
        of uploads a stopped process had already made into items; what live processes
        hold stays. Run at start by ``serve`` and ``worker`` and by every sweep. Logs and
        returns 0 instead of raising: a sweep must never stop a process from starting."""
        try:
            return (
                scratch.sweep_dead(self.settings.data_dir / WORK_DIR)
                + self.store.sweep_temporary()
                + self._sweep_staged()
            )
        except Exception:
            log.exception("could not sweep what dead processes left behind")
            return 0

    def schedule(self, job_name: str, now: datetime | None = None) -> None:
        """Enqueue a scheduled outbox job once per time slot (keyed by the slot's minute),
        however many workers' schedulers fire for it."""
        slot = (now or utcnow()).strftime("%Y-%m-%dT%H:%M")
        with self.uow() as uow:
            uow.enqueue(job_name, {"scheduled": slot}, key=f"{job_name}:{slot}")
            uow.commit()

    def retry_delay(self, job_id: int) -> int:
        with self.uow() as uow:
            row = uow.get(OutboxJob, job_id)
            return int(backoff(row.attempts).total_seconds()) if row else 0

    def check_health(self) -> dict[str, str]:
        """Each dependency's state: ``ok`` or the error that names what is wrong."""
        checks = {
            "database": lambda: self._ping_database(),
            "storage": self.store.check,
            "queue": self.queue.check,
        }
        report = {}
        for name, check in checks.items():
            try:
                check()
                report[name] = "ok"
            except Exception as exc:  # health reports failures, it never raises
                report[name] = f"error: {type(exc).__name__}: {exc}"[:300]
        missing = self.missing_media_tools()
        report[MEDIA_TOOLS] = "; ".join(f"missing {k}: {v}" for k, v in missing.items()) or "ok"
        return report

    @staticmethod
    def missing_media_tools() -> dict[str, str]:
        """The media tools this machine lacks, each with what the pipeline does instead
        (``pipeline.fingerprint.missing_media_tools``): what ``/health``, the start-up log
        and the operator's settings page all name."""
        return fingerprint.missing_media_tools()

    def warn_missing_media_tools(self) -> None:
        """Say loudly at start (web and worker) what the pipeline will do without."""
        for tool, instead in self.missing_media_tools().items():
            log.warning("media tool missing: %s; %s", tool, instead)

    def _ping_database(self) -> None:
        # Through the session factory, so a test's shared connection is used as well.
        ping(self.session_factory)

    @staticmethod
    def is_unavailable(exc: BaseException) -> bool:
        """Whether ``exc`` says a backing system cannot serve now (answer 503, retry)."""
        return is_unavailable(exc)

    def embedded_consumer(self, workers: int = 2) -> EmbeddedConsumer:
        return EmbeddedConsumer(self.queue, workers=workers)

    def close(self) -> None:
        self.engine.dispose()


def build(
    settings: Settings, *, upgrade_embedded: bool = True, engine: Engine | None = None
) -> Services:
    """Build every adapter from settings. An embedded SQLite database is brought up to
    date here; PostgreSQL is migrated only by ``datatrust db upgrade`` (an operator's act)."""
    keep_files_private(settings)
    engine = engine or make_engine(settings.effective_database_url, pool=pool_settings(settings))
    if upgrade_embedded and settings.is_sqlite:
        migrate.upgrade(engine, master_key=settings.master_key_bytes())
    store = make_object_store(settings)
    cipher = AesGcmCipher.from_settings(settings)
    services_ref: list[Services] = []
    huey = make_huey(
        settings.queue_backend,
        name=settings.queue_name,
        data_dir=settings.data_dir,
        redis_url=settings.redis_url,
    )
    queue = HueyQueue(
        huey,
        run=lambda job_id: services_ref[0].run_job(job_id),
        sweep=lambda: services_ref[0].sweep(),
        retry_delay=lambda job_id: services_ref[0].retry_delay(job_id),
        schedule=lambda job_name: services_ref[0].schedule(job_name),
    )
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        queue=queue,
        store=store,
        storage=EncryptedStorage(store, cipher),
        hasher=CappedHasher(
            Argon2Hasher(
                time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
            ),
            max_concurrent=settings.argon2_max_concurrent,
            wait_seconds=settings.argon2_wait_seconds,
        ),
        signer=Ed25519Signer.from_settings(settings),
        mailer=make_mailer(settings),
        shredder=make_shredder(engine),
        payment_rail=make_payment_rail(settings),
        payouts=make_payout_provider(settings),
        jobs=job_registry(settings.job_plugins),
        policy=settings.policy(),
        credentials=CredentialCache(settings.credential_cache_seconds),
    )
    services_ref.append(services)
    return services


def flatten_jsonld(doc: Any) -> list[dict[str, Any]]:
    """``doc`` (JSON-LD in any serialisation) flattened and expanded, for the command
    line's ODRL reader; the JSON-LD processor is loaded only when a command needs it."""
    from datatrust.adapters import jsonld

    return jsonld.flatten(doc)


def pool_settings(settings: Settings) -> PoolSettings:
    return PoolSettings(
        size=settings.db_pool_size,
        overflow=settings.db_max_overflow,
        timeout_s=settings.db_pool_timeout_seconds,
        busy_timeout_s=settings.db_busy_timeout_seconds,
    )


def keep_files_private(settings: Settings) -> None:
    """Files this process creates from now on (database with -wal and -shm, objects,
    uploads, the queue, mail) are readable by its own user only (0600, folders 0700), and
    so are the data folder, the object folder and an embedded database made before.

    The umask is process-wide on purpose: SQLite creates its -wal and -shm files itself,
    with the process's umask. Only the top folders are changed, not every file under
    them: a folder at 0700 already keeps everyone else out of all it holds."""
    os.umask(0o077)
    for folder in (settings.data_dir, settings.effective_storage_path):
        if folder.is_dir():
            folder.chmod(0o700)
    if settings.is_sqlite:
        database = Path(settings.effective_database_url.split("///", 1)[-1])
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            if path.is_file():
                path.chmod(0o600)


def upgrade_database(settings: Settings) -> str | None:
    """Apply migrations to the configured database; returns the revision reached."""
    engine = make_engine(settings.effective_database_url)
    try:
        migrate.upgrade(engine, master_key=settings.master_key_bytes())
        return migrate.current_revision(engine)
    finally:
        engine.dispose()
