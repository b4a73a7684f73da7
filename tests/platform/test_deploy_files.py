"""Deliverable 6: the Dockerfile, docker-compose.yml, .env.example and docs/deploy.md agree with
each other and with the settings. `docker compose config` validates the compose file where the
compose plugin exists; elsewhere (as on the CI machines) its structure is checked here."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_of(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def settings_variables() -> set[str]:
    text = (ROOT / "spark" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', text))


def test_compose_runs_web_worker_and_exactly_one_beat_on_postgres_and_redis(compose):
    services = compose["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "noeviction" in command_of(services["redis"])  # a broker must not drop messages
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == "."
        assert service["env_file"] == ".env"
        env = service["environment"]
        assert env["DJANGO_DEBUG"] == "False"
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379/")
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "gunicorn spark.wsgi" in command_of(services["web"])
    assert "celery -A spark worker" in command_of(services["worker"])
    assert command_of(services["beat"]).startswith("celery -A spark beat")
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "migrate" in command_of(services["migrate"])
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]  # only the proxy reaches it
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_file_is_valid_for_docker_compose(tmp_path):
    docker = shutil.which("docker")
    plugin = docker and subprocess.run(  # noqa: S603
        [docker, "compose", "version"], capture_output=True, check=False
    )
    if not plugin or plugin.returncode != 0:
        pytest.skip("the docker compose plugin is not installed (structure checked above)")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=check\n")
    result = subprocess.run(  # noqa: S603
        [docker, "compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_builds_one_non_root_image_with_collected_static_files():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", text, re.M)
    assert "pip install -r requirements.txt" in text
    assert "collectstatic --no-input" in text
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "gunicorn spark.wsgi" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "var/", ".git"} <= set(ignored)


def test_every_setting_read_from_the_environment_is_documented():
    variables = settings_variables()
    assert len(variables) > 40
    example = (ROOT / ".env.example").read_text()
    guide = (ROOT / "docs" / "deploy.md").read_text()
    assert sorted(v for v in variables if f"# {v}=" not in example) == []
    assert sorted(v for v in variables if f"| `{v}` |" not in guide) == []


def test_the_deploy_guide_covers_what_production_needs():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for topic in (
        "client_max_body_size",
        "X-Forwarded-Proto",
        "SPARK_MARKET_QUEUES",
        "Exactly one beat",
        "pg_dump",
        "archive_command",
        "Restore drill",
        "drivers_rotate_encryption_keys",
        "rotate-secret",
        "DJANGO_SECRET_KEY_FALLBACKS",
        "/account/2fa/",
        "/healthz",
    ):
        assert topic in guide, topic
    assert "docs/deploy.md" in (ROOT / "README.md").read_text()
