"""The tests' S3 server is the stack's (`benchgen_dagster.stack.s3server`)."""

from benchgen_dagster.stack.s3server import S3Server, free_ports

__all__ = ["S3Server", "free_ports"]
