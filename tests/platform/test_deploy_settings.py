"""A7: with production environment variables `manage.py check --deploy --fail-level WARNING`
reports 0 issues; development (`make run`) keeps plain http and the demo log-in."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
OUR_PREFIXES = ("DJANGO_", "SPARK_", "USE_", "CELERY_", "CHECKR_", "STRIPE_", "FIELD_ENC")


def environment(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The machine's environment without Spark's variables, plus the ones given."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(OUR_PREFIXES) and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {**base, "SPARK_VAR_DIR": str(tmp_path / "var"), **variables}


def production(tmp_path: Path, **overrides: str) -> dict[str, str]:
    variables = dict(
        DJANGO_DEBUG="False",
        DJANGO_SECRET_KEY=Fernet.generate_key().decode() + Fernet.generate_key().decode(),
        DJANGO_ALLOWED_HOSTS="spark.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://spark.example.com",
        SPARK_SITE_URL="https://spark.example.com",
        DATABASE_URL="postgres://spark:change-me@127.0.0.1:5432/spark",
        REDIS_URL="redis://127.0.0.1:6379/0",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        SPARK_SCREENING_SANDBOX="False",
    )
    return environment(tmp_path, **{**variables, **overrides})


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


SETTINGS = [
    *("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS"),
    *("SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"),
    *("CSRF_COOKIE_HTTPONLY", "SECURE_PROXY_SSL_HEADER", "SPARK_OPS_2FA", "DEBUG", "EMBEDDED"),
]


def settings_in(env: dict[str, str]) -> dict:
    """The settings module as a process started with `env` sees it (no app is loaded)."""
    code = (
        "import json, spark.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {SETTINGS!r}}}))"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_deploy_check_reports_no_issue_with_production_settings(tmp_path):
    result = deploy_check(production(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.slow
def test_deploy_check_fails_when_production_is_left_half_configured(tmp_path):
    env = production(tmp_path, SPARK_SITE_URL="http://spark.example.com", SPARK_OPS_2FA="False")
    result = deploy_check(env)
    assert result.returncode != 0
    for check_id in ("security.W004", "security.W008", "spark.W001"):
        assert check_id in result.stderr, result.stderr


def test_production_settings_are_https_only(tmp_path):
    values = settings_in(production(tmp_path))
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SPARK_OPS_2FA"] is True
    tuned = settings_in(production(tmp_path, DJANGO_SECURE_HSTS_SECONDS="300"))
    assert tuned["SECURE_HSTS_SECONDS"] == 300


def test_make_run_keeps_plain_http_and_the_demo_log_in(tmp_path):
    values = settings_in(environment(tmp_path, DJANGO_DEBUG="True"))
    assert values["DEBUG"] is True
    assert values["EMBEDDED"] is True
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SPARK_OPS_2FA"] is False


@pytest.mark.django_db
def test_database_check_warns_when_postgresql_runs_without_autovacuum(monkeypatch):
    from django.db import connection

    from spark.lib.checks import autovacuum_check

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        (setting,) = cursor.fetchone()
    messages = autovacuum_check(databases=["default"])
    assert [m.id for m in messages] == (["spark.W002"] if setting == "off" else [])
    assert autovacuum_check(databases=None) == []
