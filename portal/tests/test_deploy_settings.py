"""Production settings pass Django's deployment checks (only axes.W006 silenced, its reason in settings.py), and
the API schema has no warning."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def _production_env(tmp_path) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BERTH_", "DJANGO_"))}
    env.update(
        DATABASE_URL="postgres://berth:secret@db.internal:5432/berth",
        REDIS_URL="redis://redis.internal:6379/0",
        SECRET_KEY=secrets.token_urlsafe(64),
        BERTH_HTTPS="true",
        ALLOWED_HOSTS="berth.example.com",
        BERTH_SECRET_KEYS=",".join([Fernet.generate_key().decode(), Fernet.generate_key().decode()]),
        BERTH_TOKEN_KEY=secrets.token_urlsafe(48),
        DEBUG="false",
        BERTH_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def test_check_deploy_passes_with_production_values(tmp_path):
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (1 silenced)."
    # Production keys come from the environment; nothing is generated on disk.
    assert not (tmp_path / "data" / "keys").exists()


def test_the_openapi_schema_generates_without_a_warning(tmp_path):
    env = {**os.environ, "BERTH_DATA_DIR": str(tmp_path / "data")}

    result = _manage("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"), env=env)

    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and "Error" not in result.stderr
    schema = (tmp_path / "schema.yaml").read_text()
    assert "bearerAuth:" in schema
    assert "    ErrorResponse:\n" in schema
    assert schema.count("$ref: '#/components/schemas/ErrorResponse'") >= 4 * 9  # 401/403/404 (+400) per operation
    for path in (
        "/api/v1/tenants/:",
        "/api/v1/tenants/{tenant}/:",
        "/api/v1/tenants/{tenant}/members/{username}/:",
        "/api/v1/tokens/{id}/:",
        "/api/v1/tenants/{tenant}/audit/:",
    ):
        assert f"\n  {path}\n" in schema


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
