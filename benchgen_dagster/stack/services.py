"""The production stack on one machine: PostgreSQL, the S3 server, the code server, the Dagster
daemon and the web server, configured by `deploy/` and the environment.

`up` starts what is not running yet and waits until each answers; `down` stops them all and
removes the containers the deployment's runs left. State (the database's folder, the S3
server's, logs, process ids, the Dagster home, generated local secrets) lives in the stack's
folder, `BENCHGEN_STACK_DIR`. PostgreSQL and the S3 server are started only where their
addresses are on this machine: point `BENCHGEN_PG_HOST` or `BENCHGEN_S3_ENDPOINT` elsewhere and
the stack uses those instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from benchgen_dagster.errors import ConfigError, UserError
from benchgen_dagster.sandbox.runner import PACKAGE_ROOT
from benchgen_dagster.stack.postgres import SERVICE_USER, PostgresServer
from benchgen_dagster.stack.s3server import S3Server

DEPLOY = PACKAGE_ROOT / "deploy"
DEFAULTS = DEPLOY / "stack.env"
LOCATION = "benchgen"
SECRETS = ("BENCHGEN_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY")
SERVICES = ("postgres", "s3", "code-server", "daemon", "webserver")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
# The daemons that must report healthy before the stack is up.
DAEMONS = ("SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING")


class StackError(UserError):
    """A service that would not start or answer; the message names its log."""


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=VALUE` lines; blank lines and `#` comments are skipped."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def stack_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The stack's variables: the environment first, then `deploy/stack.env`'s defaults, and for
    a secret set nowhere, one generated once and kept in the stack's folder (mode 600)."""
    environ = dict(os.environ if environ is None else environ)
    values = {**read_env_file(DEFAULTS), **environ}
    stack_dir = Path(values["BENCHGEN_STACK_DIR"]).resolve()
    values["BENCHGEN_STACK_DIR"] = str(stack_dir)
    values["BENCHGEN_DATA_DIR"] = str(Path(values["BENCHGEN_DATA_DIR"]).resolve())
    missing = [name for name in SECRETS if not values.get(name)]
    if missing:
        kept = stack_dir / "secrets.env"
        generated = read_env_file(kept) if kept.exists() else {}
        if any(name not in generated for name in missing):
            generated |= {name: secrets.token_hex(16) for name in missing if name not in generated}
            stack_dir.mkdir(parents=True, exist_ok=True)
            write_private(kept, "".join(f"{k}={v}\n" for k, v in sorted(generated.items())))
        values |= {name: generated[name] for name in missing}
    # The stack's own instance, whatever DAGSTER_HOME the shell has (make exports one).
    values["DAGSTER_HOME"] = str(stack_dir / "dagster")
    return values


def write_private(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    temporary.replace(path)


@dataclass
class Stack:
    env: dict[str, str]
    say: Callable[[str], None] = print

    @classmethod
    def from_environment(cls, say: Callable[[str], None] = print) -> Stack:
        return cls(stack_environment(), say)

    @property
    def folder(self) -> Path:
        return Path(self.env["BENCHGEN_STACK_DIR"])

    @property
    def home(self) -> Path:
        return Path(self.env["DAGSTER_HOME"])

    @property
    def web_url(self) -> str:
        return f"http://{self.env['BENCHGEN_WEB_HOST']}:{self.env['BENCHGEN_WEB_PORT']}"

    def port(self, name: str) -> int:
        try:
            return int(self.env[name])
        except (KeyError, ValueError):
            raise ConfigError(f"{name} must be a port number, got {self.env.get(name)!r}") from None

    # -- up and down -----------------------------------------------------------------------

    def up(self, services: tuple[str, ...] = SERVICES) -> dict[str, float]:
        """Start each service that is not running; the seconds each took to answer."""
        from benchgen_dagster.orchestration.scaleout import ensure_step_image

        ensure_step_image()
        for folder in (self.folder / "logs", self.folder / "pids", self.home):
            folder.mkdir(parents=True, exist_ok=True)
        Path(self.env["BENCHGEN_DATA_DIR"], "requests").mkdir(parents=True, exist_ok=True)
        config, installed = (DEPLOY / "dagster.yaml").read_text(), self.home / "dagster.yaml"
        if not installed.exists() or installed.read_text() != config:
            for name in ("daemon", "webserver", "code-server"):  # they read it when they start
                self._stop_process(name)
            write_private(installed, config)
        starters = {
            "postgres": self._postgres,
            "s3": self._s3,
            "code-server": self._code_server,
            "webserver": self._webserver,
            "daemon": self._daemon,  # last: its health is read through the web server
        }
        seconds = {}
        for name, start in starters.items():
            if name in services:
                started = time.perf_counter()
                start()
                seconds[name] = time.perf_counter() - started
                self.say(f"  {name}: up in {seconds[name]:.1f} s")
        return seconds

    def down(self) -> None:
        """Stop every service, then remove the containers the deployment's runs left."""
        for name in ("daemon", "webserver", "code-server"):
            self._stop_process(name)
        self.remove_containers()
        self._stop_process("s3")
        if self._local(self.env["BENCHGEN_PG_HOST"]):
            self.postgres().stop()
        self.say("stack stopped")

    def status(self) -> dict[str, bool]:
        state = {name: self._alive(name) is not None for name in ("s3", *SERVICES[2:])}
        state["postgres"] = self.postgres().running()
        return state

    def remove_containers(self) -> int:
        import docker

        from benchgen_dagster.orchestration.scaleout import DEPLOYMENT_LABEL

        client = docker.from_env()
        label = f"{DEPLOYMENT_LABEL}={self.home}"
        containers = client.containers.list(all=True, filters={"label": label})
        for container in containers:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)
        return len(containers)

    # -- the services ----------------------------------------------------------------------

    def postgres(self) -> PostgresServer:
        return PostgresServer(
            folder=self._postgres_folder(),
            port=self.port("BENCHGEN_PG_PORT"),
            password=self.env["BENCHGEN_PG_PASSWORD"],
            user=self.env["BENCHGEN_PG_USER"],
            database=self.env["BENCHGEN_PG_DB"],
            host=self.env["BENCHGEN_PG_HOST"],
        )

    def _postgres(self) -> None:
        if self._local(self.env["BENCHGEN_PG_HOST"]):
            self.postgres().start()

    def _postgres_folder(self) -> Path:
        """`postgres` must reach its folder: under the stack's folder when it can, else in
        /var/tmp (a stack under /root, say)."""
        if os.geteuid() != 0 or _reachable_by_service_user(self.folder):
            return self.folder / "postgres"
        digest = hashlib.sha256(str(self.folder).encode()).hexdigest()[:10]
        return Path("/var/tmp") / f"benchgen-postgres-{digest}"

    def _s3(self) -> None:
        endpoint = urlparse(self.env["BENCHGEN_S3_ENDPOINT"])
        if not self._local(endpoint.hostname or "") or self._alive("s3") is not None:
            return
        server = S3Server(
            self.folder / "s3",
            bucket=self.env["BENCHGEN_S3_BUCKET"],
            access_key=self.env["AWS_ACCESS_KEY_ID"],
            secret_key=self.env["AWS_SECRET_ACCESS_KEY"],
        ).start(s3_port=endpoint.port or 80)
        assert server.process is not None
        (self.folder / "pids" / "s3.pid").write_text(str(server.process.pid))

    def _code_server(self) -> None:
        if self._alive("code-server") is not None:
            return
        self._spawn(
            "code-server",
            [
                *self._dagster("dagster"),
                "code-server",
                "start",
                "-h",
                self.env["BENCHGEN_CODE_HOST"],
                "-p",
                str(self.port("BENCHGEN_CODE_PORT")),
                "-m",
                "benchgen_dagster.orchestration.definitions",
                "--location-name",
                LOCATION,
                "--container-image",
                self.env["BENCHGEN_STEP_IMAGE"],
                "--container-context",
                json.dumps(self.run_container_context()),
            ],
        )
        self._wait(
            "code-server",
            lambda: code_server_answers(
                self.env["BENCHGEN_CODE_HOST"], self.port("BENCHGEN_CODE_PORT")
            ),
        )

    def _webserver(self) -> None:
        if self._alive("webserver") is None:
            self._spawn(
                "webserver",
                [
                    *self._dagster("dagster-webserver"),
                    "-h",
                    self.env["BENCHGEN_WEB_HOST"],
                    "-p",
                    str(self.port("BENCHGEN_WEB_PORT")),
                    "-w",
                    str(DEPLOY / "workspace.yaml"),
                ],
            )
        self._wait("webserver", lambda: _http_ok(f"{self.web_url}/server_info"))

    def _daemon(self) -> None:
        since = time.time() - 60  # a running daemon beats every few seconds
        if self._alive("daemon") is None:
            since = time.time()
            workspace = str(DEPLOY / "workspace.yaml")
            self._spawn("daemon", [*self._dagster("dagster-daemon"), "run", "-w", workspace])
        self._wait("daemon", lambda: daemons_healthy(self.web_url, since))

    def run_container_context(self) -> dict[str, object]:
        """What the code location tells the run launcher: run containers of the step image,
        on the host's network (PostgreSQL, S3), with the Docker socket to start the steps'
        containers, the host's Python stack and the project read-only at their own paths."""
        from benchgen_dagster.orchestration.scaleout import (
            DEPLOYMENT_LABEL,
            host_mounts,
            step_environment,
        )

        data, home = Path(self.env["BENCHGEN_DATA_DIR"]), self.home
        return {
            "docker": {
                "env_vars": [f"DAGSTER_HOME={home}", *step_environment()],
                "container_kwargs": {
                    "user": "0",
                    "network_mode": "host",
                    "labels": {DEPLOYMENT_LABEL: str(home)},
                    "volumes": [
                        *host_mounts(data, home),
                        "/var/run/docker.sock:/var/run/docker.sock:rw",
                    ],
                },
            }
        }

    # -- processes -------------------------------------------------------------------------

    def _dagster(self, program: str) -> list[str]:
        return [str(Path(sys.executable).parent / program)]

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.folder / "logs" / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            cwd=PACKAGE_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (self.folder / "pids" / f"{name}.pid").write_text(str(process.pid))

    def _alive(self, name: str) -> int | None:
        """The service's process id while it runs."""
        try:
            pid = int((self.folder / "pids" / f"{name}.pid").read_text())
            os.kill(pid, 0)
            if (Path("/proc") / str(pid) / "stat").read_text().split()[2] == "Z":
                return None
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

    def _stop_process(self, name: str, timeout: float = 30.0) -> None:
        pid = self._alive(name)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._alive(name) is not None and time.monotonic() < deadline:
                time.sleep(0.2)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        (self.folder / "pids" / f"{name}.pid").unlink(missing_ok=True)

    def _wait(self, name: str, ready: Callable[[], bool], timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self._alive(name) is None:
                raise StackError(f"{name} exited; see {self.folder / 'logs' / f'{name}.log'}")
            if time.monotonic() > deadline:
                raise StackError(
                    f"{name} did not answer in {timeout:.0f} s; "
                    f"see {self.folder / 'logs' / f'{name}.log'}"
                )
            time.sleep(0.5)

    @staticmethod
    def _local(host: str) -> bool:
        return host in LOCAL_HOSTS


def _reachable_by_service_user(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    check = ["runuser", "-u", SERVICE_USER, "--", "test", "-x", str(folder)]
    return subprocess.run(check, capture_output=True, check=False).returncode == 0


def code_server_answers(host: str, port: int) -> bool:
    """Whether a code server there serves the definitions (a server that failed to load them
    answers with the error, which is raised)."""
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._serdes import deserialize_value
    from dagster._utils.error import SerializableErrorInfo

    try:
        answer = deserialize_value(DagsterGrpcClient(host=host, port=port).list_repositories())
    except Exception:
        return False
    if isinstance(answer, SerializableErrorInfo):
        raise StackError(f"the code server at {host}:{port} cannot load the definitions: {answer}")
    return True


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def graphql(web_url: str, query: str, variables: dict[str, object] | None = None) -> dict:
    """One query to Dagster's GraphQL API; its `data`."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{web_url}/graphql", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:  # a bad query: the body says why
        answer = json.loads(error.read() or b"{}") or {"errors": [{"message": str(error)}]}
    if answer.get("errors"):
        raise StackError(f"GraphQL: {answer['errors'][0].get('message')}")
    return answer["data"]


DAEMON_HEALTH = """{ instance { daemonHealth { allDaemonStatuses {
    daemonType healthy lastHeartbeatTime } } } }"""


def daemons_healthy(web_url: str, since: float) -> bool:
    """Whether the daemons the stack needs beat, healthy, since `since` (the heartbeats of a
    daemon that stopped stay in the database)."""
    try:
        statuses = graphql(web_url, DAEMON_HEALTH)["instance"]["daemonHealth"]
    except (StackError, urllib.error.URLError, OSError):
        return False
    healthy = {
        s["daemonType"]
        for s in statuses["allDaemonStatuses"]
        if s["healthy"] and (s["lastHeartbeatTime"] or 0) >= since
    }
    return set(DAEMONS) <= healthy
