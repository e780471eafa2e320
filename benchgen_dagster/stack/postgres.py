"""A PostgreSQL server from Debian's packages (`postgresql-15`), initialised in a folder of its
own and run as a user that is not root (PostgreSQL refuses root): `postgres` when started by
root, else the current user. It listens on one address and port, and its one database's owner
logs in with a password (SCRAM) that is given, never generated or printed here."""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from benchgen_dagster.errors import UserError

SERVICE_USER = "postgres"


class PostgresError(UserError):
    """PostgreSQL is missing or would not start; the message says why and where to look."""


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them out of PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresError("PostgreSQL is not installed: `apt-get install postgresql-15`")


@dataclass
class PostgresServer:
    folder: Path  # the cluster's data folder, made on first start
    port: int
    password: str
    user: str = "benchgen"
    database: str = "benchgen"
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """The database's address without the password (for messages)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def environment(self) -> dict[str, str]:
        return {
            "BENCHGEN_PG_HOST": self.host,
            "BENCHGEN_PG_PORT": str(self.port),
            "BENCHGEN_PG_DB": self.database,
            "BENCHGEN_PG_USER": self.user,
            "BENCHGEN_PG_PASSWORD": self.password,
        }

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """Initialise the cluster the first time, start it unless it runs, make the database."""
        if not (self.folder / "PG_VERSION").exists():
            self._initdb()
        if not self.running():
            options = f"-p {self.port} -c listen_addresses={self.host} -k {self.folder}"
            log = self.folder / "server.log"
            self._as_owner(
                "pg_ctl", "-D", self.folder, "-l", log, "-o", options, "-w", "-t", timeout, "start"
            )
        self._ensure_database(timeout)
        return self

    def running(self) -> bool:
        if not (self.folder / "PG_VERSION").exists():
            return False
        status = self._as_owner("pg_ctl", "-D", self.folder, "status", check=False)
        return status.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions and shuts down cleanly; `immediate` is a crash (recovery on the
        next start)."""
        if self.running():
            self._as_owner("pg_ctl", "-D", self.folder, "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def connect(self, database: str | None = None, timeout: float = 5.0):  # type: ignore[no-untyped-def]
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database or self.database,
            connect_timeout=int(timeout),
        )

    def _initdb(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        self._give_to_owner(self.folder)
        password_file = self.folder.parent / f".{self.folder.name}.password"
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.password)
        try:
            self._give_to_owner(password_file)
            self._as_owner(
                "initdb",
                "-D",
                self.folder,
                "-U",
                self.user,
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "-E",
                "UTF8",
            )
        finally:
            password_file.unlink(missing_ok=True)

    def _ensure_database(self, timeout: float) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            try:
                connection = self.connect("postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise PostgresError(f"PostgreSQL at {self.url} does not answer") from None
                time.sleep(0.5)
        connection.autocommit = True
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
            if cursor.fetchone() is None:
                cursor.execute(f'CREATE DATABASE "{self.database}"')

    def _as_owner(
        self, program: str, *args: object, check: bool = True
    ) -> subprocess.CompletedProcess:
        command = [str(postgres_bin() / program), *map(str, args)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise PostgresError(
                f"{program} failed for the cluster in {self.folder}: "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done

    @staticmethod
    def _give_to_owner(path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, pwd.getpwnam(SERVICE_USER).pw_uid, grp.getgrnam(SERVICE_USER).gr_gid)
