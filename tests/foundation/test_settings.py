"""Settings come from DATATRUST_* variables and *_FILE secrets; dev secrets are refused."""

from __future__ import annotations

import base64

import pytest

from datatrust.config import InsecureSettings, load_settings


def test_production_refuses_development_secrets(monkeypatch):
    monkeypatch.delenv("DATATRUST_DEV_MODE", raising=False)
    settings = load_settings()
    with pytest.raises(InsecureSettings) as refused:
        settings.check_secrets()
    for name in ("DATATRUST_SECRET_KEY", "DATATRUST_MASTER_KEY", "DATATRUST_SIGNING_KEY"):
        assert name in str(refused.value)


def test_dev_mode_accepts_development_secrets(monkeypatch):
    monkeypatch.setenv("DATATRUST_DEV_MODE", "1")
    load_settings().check_secrets()


def test_secrets_can_come_from_files(tmp_path, monkeypatch):
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    (tmp_path / "master").write_text(key + "\n")
    (tmp_path / "secret").write_text("a-real-secret-from-a-file")
    (tmp_path / "signing").write_text("-----BEGIN PRIVATE KEY-----\n...")
    monkeypatch.setenv("DATATRUST_MASTER_KEY_FILE", str(tmp_path / "master"))
    monkeypatch.setenv("DATATRUST_SECRET_KEY_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("DATATRUST_SIGNING_KEY_FILE", str(tmp_path / "signing"))
    monkeypatch.delenv("DATATRUST_DEV_MODE", raising=False)
    settings = load_settings()
    settings.check_secrets()
    assert settings.master_key_bytes() == b"k" * 32
    assert settings.secret_key.get_secret_value() == "a-real-secret-from-a-file"


def test_environment_variables_configure_the_backends(monkeypatch):
    monkeypatch.setenv("DATATRUST_DATABASE_URL", "postgresql://db.internal/datatrust")
    monkeypatch.setenv("DATATRUST_QUEUE_BACKEND", "redis")
    monkeypatch.setenv("DATATRUST_STORAGE_BACKEND", "s3")
    settings = load_settings()
    assert not settings.is_sqlite
    assert (settings.queue_backend, settings.storage_backend) == ("redis", "s3")


def test_embedded_default_is_a_sqlite_file_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DATATRUST_DATABASE_URL", raising=False)
    settings = load_settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve()}/datatrust.db"


def test_a_master_key_of_the_wrong_length_is_refused_with_its_name():
    settings = load_settings(master_key=base64.urlsafe_b64encode(b"short").decode())
    with pytest.raises(InsecureSettings, match="DATATRUST_MASTER_KEY"):
        settings.master_key_bytes()
