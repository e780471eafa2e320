"""An S3 bucket as a store: media and records as real objects with their own content types.

An object appears under its key only when its upload is complete (S3 semantics); files above
MULTIPART_BYTES go up in parts. Transient errors are retried by botocore with backoff.
"""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchgen_dagster.errors import ConfigError, UserError

MULTIPART_BYTES = 8 * 1024 * 1024
CONTENT_TYPES = {
    ".json": "application/json",
    ".xml": "application/xml",
    ".py": "text/x-python",
    ".stl": "model/stl",
    ".tar": "application/x-tar",
    ".parquet": "application/vnd.apache.parquet",
    ".png": "image/png",
    ".yaml": "application/yaml",
    ".md": "text/markdown",
}


def content_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


class StorageUnavailable(UserError):
    """The bucket cannot be reached or refuses us; the message says which and why."""


@contextmanager
def _explained(store: S3Store, key: str) -> Iterator[None]:
    """botocore's errors, after its own retries, as one line naming the bucket and the key."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchKey", "NotFound"):
            raise
        raise StorageUnavailable(
            f"S3 refused {store.uri(key)}: {code or error} (check the bucket and credentials)"
        ) from None
    except BotoCoreError as error:
        raise StorageUnavailable(f"S3 is unreachable for {store.uri(key)}: {error}") from None


class S3Store:
    """Keys under `prefix/` in a bucket, through a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        from boto3.s3.transfer import TransferConfig

        self.client, self.bucket = client, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES
        )

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"key {key!r} leaves the store")
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        with _explained(self, key):
            self._upload(key, data)

    def _upload(self, key: str, data: bytes) -> None:
        self.client.upload_fileobj(
            io.BytesIO(data),
            self.bucket,
            self._key(key),
            ExtraArgs={"ContentType": content_type(key)},
            Config=self.transfer,
        )

    def get(self, key: str) -> bytes:
        with _explained(self, key):
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            with _explained(self, key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError:  # only a 404 gets through _explained
            return False
        return True

    def list(self, prefix: str) -> list[str]:
        folder = self._key(prefix).rstrip("/") + "/"
        keys = []
        with _explained(self, prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder
            ):
                keys += [item["Key"][len(self.prefix) :] for item in page.get("Contents", [])]
        return sorted(keys)

    def leftovers(self, prefix: str) -> list[str]:
        """Multipart uploads begun under the prefix and never completed (a killed writer's);
        S3 shows none of them as objects."""
        folder = self._key(prefix).rstrip("/") + "/"
        with _explained(self, prefix):
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=folder)
        return sorted(u["Key"][len(self.prefix) :] for u in uploads.get("Uploads", []))

    def delete(self, key: str) -> None:
        with _explained(self, key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def readable_url(self, key: str, expires_s: int) -> str:
        """A presigned HTTPS link, so readers need no credentials of their own."""
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_s
        )


def client_from_environment(endpoint: str | None = None) -> Any:
    """A boto3 client from the usual AWS variables; `BENCHGEN_S3_ENDPOINT` for an S3-compatible
    server. Credentials are never passed around in code or logged."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint or os.environ.get("BENCHGEN_S3_ENDPOINT") or None,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(
            retries={"max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", 8)), "mode": "standard"}
        ),
    )


def store_from_environment() -> S3Store | None:
    """The bucket `BENCHGEN_S3_BUCKET` names, outside Dagster (the CLI); None when unset."""
    bucket = os.environ.get("BENCHGEN_S3_BUCKET")
    if not bucket:
        return None
    return S3Store(
        client_from_environment(), bucket, os.environ.get("BENCHGEN_S3_PREFIX", "benchgen")
    )


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` → (`bucket`, `some/key`)."""
    rest = uri.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise ConfigError(f"{uri!r} is not an s3://bucket/key address")
    return bucket, key.strip("/")
