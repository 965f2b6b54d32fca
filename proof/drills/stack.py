"""The services a drill breaks: a PostgreSQL and a Redis of our own (free ports, data folders
under a temporary folder), never the shared ones the tests use. Django-free: the runner starts
these before Django is configured, since settings read the URLs from the environment."""

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_USER = "postgres"  # PostgreSQL refuses to run as root: the server runs as this system user


def _pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: PROOF_PG_BIN, else PATH, else Debian's layout."""
    if os.environ.get("PROOF_PG_BIN"):
        return Path(os.environ["PROOF_PG_BIN"])
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return debian[-1].parent if debian else None


PG_BIN = _pg_bin() or Path("/usr/local/bin")
REDIS_SERVER = os.environ.get("PROOF_REDIS_SERVER") or shutil.which("redis-server") or ""


def services_available() -> str:
    """What this machine lacks to run the drills' own PostgreSQL and Redis ("" when nothing)."""
    missing = [
        name
        for name, path in (
            ("initdb", PG_BIN / "initdb"),
            ("pg_ctl", PG_BIN / "pg_ctl"),
            ("redis-server", Path(REDIS_SERVER or "/nonexistent")),
        )
        if not path.is_file()
    ]
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser")
    return ", ".join(missing)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def _as_pg_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "pgdata"

    def url(self, database: str = "drills") -> str:
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, PG_USER)
        subprocess.run(
            _as_pg_user(
                [
                    *(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", PG_USER),
                    *("--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"),
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        subprocess.run(
            _as_pg_user(
                [
                    *(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options),
                    *("-w", "-t", "30", "-l", str(self.folder / "postgres.log"), "start"),
                ]
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False,
            capture_output=True,
        )

    def create_database(self, name: str = "drills") -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Redis:
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                    *("--save", "", "--appendonly", "no", "--dir", str(self.folder)),
                    *("--protected-mode", "no"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while not port_answers(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("our Redis did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # a crash, not a clean shutdown
            self.process.wait(timeout=10)
        self.process = None

    def flush(self) -> None:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            client.flushall()
        finally:
            client.close()
