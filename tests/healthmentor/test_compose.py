"""docker-compose.yml and the Dockerfile: the five services, their health checks, no secrets inside.

The compose CLI is absent on most of our machines (docker client, no engine, no v2 plugin), so the
file is checked here as data; where `docker compose` or `docker-compose` exists it validates too.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = ("web", "worker", "beat")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|KEY|TOKEN", re.IGNORECASE)
# Compose interpolation: ${NAME}, ${NAME:-default}, ${NAME:?message}
INTERPOLATED = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: str(v) for k, v in env.items()}


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_the_five_services_exist(services):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker", "beat"])
def test_every_long_running_service_has_a_health_check(services, name):
    check = services[name]["healthcheck"]
    test = check["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    assert "interval" in check and "retries" in check


def test_health_checks_probe_what_each_service_does(services):
    def probe(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"])

    assert "pg_isready" in probe("postgres")
    assert "redis-cli ping" in probe("redis")
    assert "/health/live" in probe("web")
    assert "inspect ping" in probe("worker") and "$$HOSTNAME" in probe("worker")
    assert "celerybeat.pid" in probe("beat")


def test_the_app_starts_after_its_services_are_healthy_and_migrated(services):
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    migrate = services["migrate"]
    assert "manage.py migrate" in _command(migrate)
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart") == "no"


def test_app_services_read_env_file_and_use_postgres_and_redis(services):
    for name in (*APP_SERVICES, "migrate"):
        service = services[name]
        assert service["env_file"] in (".env", [".env"])
        env = _environment(service)
        assert env["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
        assert env["REDIS_CACHE_URL"].startswith("redis://redis:6379/")
        assert env["REDIS_CACHE_URL"] != env["CELERY_BROKER_URL"]  # the cache may be flushed


def test_the_worker_consumes_both_queues_and_web_runs_gunicorn(services):
    worker = _command(services["worker"])
    assert "celery -A healthmentor worker" in worker
    assert "default,inference" in worker
    assert "celery -A healthmentor beat" in _command(services["beat"])
    assert "command" not in services["web"]  # the image's gunicorn CMD
    assert "gunicorn" in DOCKERFILE.read_text()


def test_database_and_media_live_in_named_volumes(compose, services):
    assert {"db", "media"} <= set(compose["volumes"])
    assert "db:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    for name in APP_SERVICES:
        assert any(v.startswith("media:") for v in services[name]["volumes"])


def test_no_secret_value_is_written_in_the_compose_file(services):
    for name, service in services.items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATED.fullmatch(value), f"{name}: {key} is hard-coded"
            # A password inside a URL comes from the environment too.
            for password in re.findall(r"://[^:/@]+:([^@]+)@", value):
                assert INTERPOLATED.fullmatch(password), f"{name}: {key} embeds a password"


def test_the_image_runs_as_a_user_and_bakes_in_no_secret():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "requirements.lock" in text
    assert "collectstatic" in text
    env_lines = re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", text, re.MULTILINE)
    for block in env_lines:
        for name in re.findall(r"([A-Z_][A-Z0-9_]*)=", block):
            assert not SECRET_NAME.search(name), f"ENV {name} would stay in the image"


def test_dockerignore_keeps_local_state_and_secrets_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in (".env", ".git", ".venv", "var", "db.sqlite3"):
        assert path in ignored


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        version = subprocess.run([docker, "compose", "version"], capture_output=True)
        if version.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_the_compose_cli_accepts_the_file(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no docker compose CLI here; the file was checked as data above")
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    env = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(env.replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=x\n"))

    done = subprocess.run(
        [*cli, "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
