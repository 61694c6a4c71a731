"""One typed settings object, read from ``DATATRUST_*`` environment variables.

Every secret can also come from a file named by ``DATATRUST_<NAME>_FILE`` (how container
orchestrators hand secrets over). Outside dev mode the service refuses to start while any
secret still has its built-in development value.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from datatrust.domain.money import Money
from datatrust.domain.payfloor import PayFloors
from datatrust.domain.policy import (
    DEFAULT_DENIED_INDUSTRIES,
    DEFAULT_MINIMUM_PAYOUT_MINOR,
    DEFAULT_PAY_FLOOR_CURRENCY,
    DEFAULT_PAY_FLOOR_MINOR_PER_HOUR,
    DEFAULT_PAYOUT_METHOD_HOLD_HOURS,
    DEFAULT_PLATFORM_FEE_PERCENT,
    InstancePolicy,
)

# Development-only values: usable on a laptop, refused in production (see `check_secrets`).
DEV_SECRET_KEY = "dev-secret-key-change-me"
DEV_MASTER_KEY = base64.urlsafe_b64encode(b"dev-master-key-32-bytes-long!!!!").decode()
SECRET_FIELDS = ("secret_key", "master_key", "signing_key")


class InsecureSettings(RuntimeError):
    """Raised when production settings still carry a development secret."""


class Settings(BaseSettings):
    """Every knob of an instance. See the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="DATATRUST_", extra="ignore")

    dev_mode: bool = False
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under data_dir
    base_url: str = "http://127.0.0.1:8000"
    # Who runs the instance: the controller named in consent receipts and at
    # {base_url}/parties/operator, its contact, and its privacy policy (default: the
    # licence templates page, {base_url}/licences).
    operator_name: str = "the operator of this Datatrust instance"
    operator_email: str = ""
    privacy_policy_url: str = ""
    # The map of where recordings are wanted (/map) draws its places on a blank background
    # and fetches nothing from other sites. An operator may name a tile server instead
    # ("https://tiles.example.org/{z}/{x}/{y}.png", with its attribution); the map page then
    # allows images from that origin and no other.
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto are believed.
    trusted_proxies: list[str] = Field(default_factory=list)

    storage_backend: Literal["local", "s3"] = "local"
    storage_path: Path | None = None  # default: data_dir / "objects"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "datatrust"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    queue_backend: Literal["sqlite", "redis", "immediate"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "datatrust"
    embedded_worker: bool = True  # run the job consumer inside the web process
    # Connections per process and how long a request waits for one before a 503 with
    # Retry-After; size + overflow should cover web_threads. SQLite writers wait
    # db_busy_timeout_seconds for the write lock.
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    db_busy_timeout_seconds: float = Field(default=10.0, gt=0)
    # Threads that run blocking request work (database, files) beside the event loop.
    web_threads: int = Field(default=40, ge=1)
    # Requests one web process works on at once (``web.admission``); the others wait their
    # turn in arrival order, and one that waits longer than web_queue_seconds is answered
    # 503 with Retry-After. /health and static files are not counted, nor is waiting for a
    # large body to arrive or for a client to read its answer. 0: no limit (the default
    # until a measurement shows a value that helps: bench/RESULTS.md, "Load").
    web_active_requests: int = Field(default=0, ge=0)
    web_queue_seconds: float = Field(default=30.0, gt=0)
    # How long a verified API token or session is trusted without reading the database
    # again (``services.credentials``): a change made in this process (a revoked token, a
    # sign-out) applies at once; one made by another process after at most this long.
    # 0: check the database on every request.
    credential_cache_seconds: float = Field(default=10.0, ge=0)
    job_lease_seconds: int = 300
    job_max_attempts: int = 8
    # Extra modules (comma-separated) whose ``@job`` handlers this instance's workers run:
    # how an operator adds jobs without forking (``services.handlers.job_registry``).
    job_plugins: str = ""

    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    master_key: SecretStr = SecretStr(DEV_MASTER_KEY)  # urlsafe base64 of 32 bytes
    signing_key: SecretStr | None = None  # Ed25519 private key, PEM; derived from secret in dev
    # Key rotation: the public JWKs of signing keys replaced since (JSON list). A new key
    # signs; these stay published at /.well-known/jwks.json so what they signed verifies.
    retired_signing_jwks: list[dict[str, str]] = Field(default_factory=list)
    # How long a buyer's client may trust a revocation feed after it was issued.
    feed_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # Items an organisation may see in evaluation samples before buying, in all.
    evaluation_sample_limit: int = Field(default=20, ge=0)
    # Pushed notices (services.webhooks): how long a buyer's webhook has to answer, and
    # after how many failed attempts in a row the operators are alerted.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_alert_after_failures: int = Field(default=5, ge=1)

    # Argon2id cost; the defaults follow RFC 9106's second recommendation. Tests lower them.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    # Hashes running at once in one process (0: one per CPU), and how long a sign-in or
    # sign-up waits for a free one before it is told to retry (adapters.passwords).
    argon2_max_concurrent: int = Field(default=0, ge=0)
    argon2_wait_seconds: float = Field(default=2.0, gt=0, le=30)
    session_max_age_seconds: int = 14 * 24 * 3600
    # Sign-in throttling (services.accounts.Throttle): failures allowed in 15 minutes before
    # each next try must wait (1 s, 2 s, 4 s … up to the maximum), per account and per client.
    sign_in_free_failures: int = 5
    sign_in_client_free_failures: int = 20
    sign_in_max_delay_seconds: int = 300
    # Sign-ups one client address may ask for in 15 minutes before each next one waits (the
    # same doubling delays): each costs an Argon2 hash, so unthrottled they are a CPU DoS.
    sign_up_client_free_requests: int = 10
    max_json_body_bytes: int = 1_000_000

    # Instance policy (domain.policy holds the defaults; bootstrap.instance_policy).
    platform_fee_percent: int = Field(default=DEFAULT_PLATFORM_FEE_PERCENT, ge=0, le=100)
    pay_floor_minor_per_hour: int = DEFAULT_PAY_FLOOR_MINOR_PER_HOUR
    pay_floor_currency: str = DEFAULT_PAY_FLOOR_CURRENCY
    # Per-country floors, minor units per hour in pay_floor_currency: {"IN": 300, "GB": 1300}.
    pay_floor_by_country: dict[str, int] = Field(default_factory=dict)
    minimum_payout_minor: int = Field(default=DEFAULT_MINIMUM_PAYOUT_MINOR, ge=1)
    # Hours a newly added payout method waits before a payout goes to it (0: none).
    payout_method_hold_hours: int = Field(default=DEFAULT_PAYOUT_METHOD_HOLD_HOURS, ge=0)
    # Money in and out (adapters.payments): "fake_card" is the only card rail so far;
    # payouts go to a CSV export the operator pays by hand, or "fake" (pays nothing).
    payment_rail: Literal["fake_card"] = "fake_card"
    payout_provider: Literal["csv", "fake"] = "csv"
    denied_industries: list[str] = Field(default_factory=lambda: [*DEFAULT_DENIED_INDUSTRIES])
    default_language: str = "en"

    # Mail: "file" writes .eml files under mail_dir (development, tests); "smtp" sends.
    mail_backend: Literal["file", "smtp"] = "file"
    mail_dir: Path | None = None  # default: data_dir / "mail"
    mail_from: str = "Datatrust <no-reply@localhost>"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'datatrust.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_storage_path(self) -> Path:
        return self.storage_path or self.data_dir / "objects"

    @property
    def effective_mail_dir(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    def policy(self) -> InstancePolicy:
        """The instance's policy, built once (``bootstrap``) and handed to services."""
        return InstancePolicy(
            platform_fee_percent=self.platform_fee_percent,
            pay_floors=PayFloors(
                self.pay_floor_minor_per_hour,
                self.pay_floor_currency,
                dict(self.pay_floor_by_country),
            ),
            minimum_payout=Money(self.minimum_payout_minor, self.pay_floor_currency),
            denied_industries=tuple(self.denied_industries),
            payout_method_hold=timedelta(hours=self.payout_method_hold_hours),
        )

    def master_key_bytes(self) -> bytes:
        raw = base64.urlsafe_b64decode(self.master_key.get_secret_value().encode())
        if len(raw) != 32:
            raise InsecureSettings("DATATRUST_MASTER_KEY must be urlsafe base64 of 32 bytes")
        return raw

    def check_secrets(self) -> None:
        """Refuse development secrets unless ``dev_mode`` is on."""
        if self.dev_mode:
            return
        weak = []
        if self.secret_key.get_secret_value() == DEV_SECRET_KEY:
            weak.append("DATATRUST_SECRET_KEY")
        if self.master_key.get_secret_value() == DEV_MASTER_KEY:
            weak.append("DATATRUST_MASTER_KEY")
        if self.signing_key is None:
            weak.append("DATATRUST_SIGNING_KEY")
        if weak:
            raise InsecureSettings(
                "refusing to start with development secrets: set "
                + ", ".join(weak)
                + " (or DATATRUST_DEV_MODE=1 on a laptop)"
            )


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with ``*_FILE`` secrets and explicit overrides."""
    from_files: dict[str, object] = {}
    for name in (*SECRET_FIELDS, "s3_secret_access_key", "smtp_password", "database_url"):
        path = os.environ.get(f"DATATRUST_{name.upper()}_FILE")
        if path:
            from_files[name] = Path(path).read_text().strip()
    return Settings(**{**from_files, **overrides})
