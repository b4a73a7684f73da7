"""Real processes for the chaos tests, and how to kill them.

A throwaway Redis, a throwaway PostgreSQL cluster, Celery workers and a gunicorn app server, each
on a spare port with its own temp dir and its own process group (so `kill -9` takes the whole
worker, pool children included). Everything is started through a `Processes` registry, whose
`close()` kills whatever is still running, whatever the test did: the shared servers on 5432 and
6379 are never touched.
"""

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_BIN = Path(os.environ.get("SPARK_CHAOS_PG_BIN", "/usr/lib/postgresql/15/bin"))
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Every database connection a chaos process opens says so (pg_stat_activity.application_name).
APP_NAME = "spark-chaos"
SETTINGS = "tests.chaos.chaos_settings"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, step: float = 0.05):
    """Poll until `predicate()` is truthy; return its value. TimeoutError names `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def _as_postgres() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Proc:
    """A child process in its own session (process group = its pid), logging to a file."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_path: Path):
        self.name, self.argv, self.log_path = name, argv, log_path
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 (argv built by the tests, no shell)
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        return _children(self.pid)

    def kill9(self) -> None:
        """`kill -9` the process and every process of its group (a crashed machine)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log.close()

    def kill9_child(self) -> int:
        """`kill -9` one pool child (the process running the task); the parent lives on."""
        child = wait_until(self.children, timeout=10, what=f"a child of {self.name}")[0]
        os.kill(child, signal.SIGKILL)
        return child

    def terminate(self, timeout: float = 10) -> None:
        if self.alive:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
        self.kill9()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name} ({self.log_path}) ---\n" + "\n".join(
            self.log_text().splitlines()[-lines:]
        )


class Redis:
    """redis-server on a spare port, no persistence: a restart loses every queued message."""

    def __init__(self, procs: "Processes"):
        self.procs, self.port = procs, free_port()
        self.dir = procs.tmp / f"redis-{self.port}"
        self.dir.mkdir()
        self.proc: Proc | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> "Redis":
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.dir), "--logfile", ""]
        self.proc = self.procs.spawn(f"redis:{self.port}", argv)
        wait_until(self.ping, timeout=10, what=f"redis on {self.port}")
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM: a clean shutdown, nothing saved)."""
        assert self.proc is not None
        self.proc.terminate()
        wait_until(lambda: not self.ping(), timeout=10, what="redis to stop")


class PgCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a spare port, owned by postgres."""

    def __init__(self, procs: "Processes"):
        self.procs, self.port = procs, free_port()
        self.dir = procs.tmp / f"pg-{self.port}"
        self.data = self.dir / "data"
        self.dir.mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.procs.tmp, 0o711)  # noqa: S103 (postgres must reach its dir)
        self._run([PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust"], "initdb")
        self.started = False

    def _run(self, argv: list[Any], what: str, timeout: float = 60) -> str:
        out = subprocess.run(  # noqa: S603 (fixed binaries, no shell)
            [*_as_postgres(), *map(str, argv)],
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{what} failed: {out.stdout}\n{out.stderr}")
        return out.stdout

    def url(self, name: str, app: str = APP_NAME) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}?application_name={app}"

    def start(self) -> "PgCluster":
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
        opts += "-c full_page_writes=off -c synchronous_commit=off -c max_connections=50"
        log = self.dir / "server.log"
        self._run(
            [PG_BIN / "pg_ctl", "-D", self.data, "-l", log, "-o", opts, "-w", "start"], "start"
        )
        self.started = True
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run([PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"], "stop")
        self.started = False

    def psql(self, sql: str, db: str = "postgres") -> str:
        argv = [PG_BIN / "psql", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", db]
        return self._run([*argv, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], "psql")

    def copy_database(self, *, source: dict[str, Any], name: str) -> None:
        """Create `name` here as a copy (schema, triggers, rows) of a database elsewhere."""
        self.psql(f'CREATE DATABASE "{name}"')
        dump = [PG_BIN / "pg_dump", "-h", source["HOST"], "-p", source["PORT"]]
        dump += ["-U", source["USER"], "--no-owner", "--no-privileges", source["NAME"]]
        load = [PG_BIN / "psql", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-d", name]
        load += ["-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null"]
        with subprocess.Popen(  # noqa: S603 (fixed binaries, no shell)
            list(map(str, dump)), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as producer:
            loaded = subprocess.run(  # noqa: S603
                list(map(str, load)), stdin=producer.stdout, capture_output=True, check=False
            )
            producer.wait(timeout=120)
        if producer.returncode or loaded.returncode:
            raise RuntimeError(f"copying the database failed: {loaded.stderr!r}")

    def destroy(self) -> None:
        if self.started:
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                pid_file = self.data / "postmaster.pid"
                if pid_file.exists():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


class Processes:
    """Starts the real servers a chaos test needs and kills all of them in `close()`."""

    def __init__(self, tmp: Path, base_env: dict[str, str]):
        self.tmp, self.base_env = tmp, base_env
        self.procs: list[Proc] = []
        self.clusters: list[PgCluster] = []
        self._n = 0
        atexit.register(self.close)  # an interrupted run (Ctrl-C) leaves nothing behind either

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        self._n += 1
        log = self.tmp / f"{self._n:02d}-{name.replace(':', '-').replace('/', '-')}.log"
        proc = Proc(name, argv, env={**self.base_env, **(env or {})}, log_path=log)
        self.procs.append(proc)
        return proc

    def redis(self) -> Redis:
        return Redis(self).start()

    def postgres(self) -> PgCluster:
        cluster = PgCluster(self)
        self.clusters.append(cluster)
        return cluster.start()

    def worker(self, env: dict[str, str], *, concurrency: int = 1, wait: bool = True) -> Proc:
        """A real `celery worker` (prefork pool) on the broker in env["REDIS_URL"]."""
        self._n += 1
        argv = [str(BIN / "python"), "-m", "celery", "-A", "spark", "worker", "--pool=prefork"]
        argv += [f"--concurrency={concurrency}", "--loglevel=INFO", f"-n chaos{self._n}@%h"]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "celery"]
        proc = self.spawn("worker", argv, env)
        if wait:
            self.wait_worker(proc)
        return proc

    @staticmethod
    def wait_worker(proc: Proc) -> Proc:
        wait_until(
            lambda: " ready." in proc.log_text() or not proc.alive,
            timeout=90,
            what="the celery worker to be ready",
            step=0.1,
        )
        assert proc.alive, proc.tail()
        return proc

    def web(self, env: dict[str, str], *, workers: int = 2) -> tuple[Proc, str]:
        """gunicorn with sync workers, as in the Procfile; returns (process, base url)."""
        port = free_port()
        argv = [str(BIN / "gunicorn"), "spark.wsgi", "--bind", f"127.0.0.1:{port}"]
        argv += ["--workers", str(workers), "--preload", "--timeout", "30"]
        argv += ["--graceful-timeout", "2"]
        argv += ["--error-logfile", "-", "--access-logfile", "-"]
        proc = self.spawn("web", argv, env)
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.alive, proc.tail()
            try:
                requests.get(f"{base}/healthz", timeout=5)
            except requests.RequestException:
                return False
            return True

        wait_until(up, timeout=90, what="gunicorn to answer", step=0.1)
        return proc, base

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.alive:
                proc.kill9()
        for cluster in self.clusters:
            cluster.destroy()
        self.clusters.clear()

    def tails(self) -> str:
        return "\n".join(p.tail() for p in self.procs if "redis" not in p.name)
