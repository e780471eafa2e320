"""Storage of asset values: records as JSON, media as real files beside them."""

import os
from typing import Any

from dagster import (
    ConfigurableIOManager,
    ConfigurableResource,
    EnvVar,
    InputContext,
    OutputContext,
)
from pydantic import Field

from benchgen_dagster.resources.settings import PipelineSettings, env_or
from benchgen_dagster.schema.records import RECORD_TYPES
from benchgen_dagster.stores.bundles import read_bundle, write_bundle
from benchgen_dagster.stores.local import LocalStore, Store
from benchgen_dagster.stores.s3 import S3Store

ASSETS_PREFIX = "assets"


class S3Connection(ConfigurableResource):
    """How to reach S3 or an S3-compatible server. The client comes from dagster-aws's
    `S3Resource`, imported when a store on S3 is opened: importing it with the definitions
    (it brings Athena, Secrets Manager and boto3) would cost every run worker's start."""

    endpoint_url: str | None = Field(default=None, description="An S3-compatible server")
    region_name: str | None = Field(default=None, description="The bucket's region")
    aws_access_key_id: str | None = Field(default=None, description="Else boto3's own lookup")
    aws_secret_access_key: str | None = Field(default=None, description="Else boto3's own lookup")
    max_attempts: int = Field(default=5, description="botocore's attempts, the first included")

    def get_client(self) -> Any:
        from dagster_aws.s3 import S3Resource

        return S3Resource(
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            max_attempts=self.max_attempts,
        ).get_client()


class StorageResource(ConfigurableResource):
    """The store behind the IO manager and the dataset release: the data folder by default, an
    S3 bucket when one is configured (`BENCHGEN_S3_BUCKET`)."""

    settings: PipelineSettings
    s3: S3Connection | None = None
    s3_bucket: str = Field(default="", description="Keep assets and datasets in this bucket")
    s3_prefix: str = Field(default="benchgen", description="Key prefix inside the bucket")

    def store(self) -> Store:
        if self.s3_bucket:
            return S3Store((self.s3 or S3Connection()).get_client(), self.s3_bucket, self.s3_prefix)
        return LocalStore(self.settings.root)


def asset_prefix(asset: str, partition: str | None) -> str:
    """`assets/<asset>/<partition>`: readable keys a person can browse."""
    return f"{ASSETS_PREFIX}/{asset}/{partition or '_'}"


class BundleIOManager(ConfigurableIOManager):
    """Stores pydantic records and Bundles under `assets/<asset>/<partition>/`."""

    storage: StorageResource

    def handle_output(self, context: OutputContext, obj: object) -> None:
        partition = context.partition_key if context.has_partition_key else None
        prefix = asset_prefix(context.asset_key.to_user_string(), partition)
        write_bundle(self.storage.store(), prefix, obj)  # type: ignore[arg-type]
        # An asset's own `path` (the release's: the dataset's folder) says more than where its
        # value is kept, so it wins.
        key = "stored_at" if "path" in context.output_metadata else "path"
        context.add_output_metadata({key: self.storage.store().uri(prefix)})

    def load_input(self, context: InputContext) -> object:
        asset = context.asset_key.to_user_string()
        store = self.storage.store()
        if not context.has_asset_partitions:
            return read_bundle(store, asset_prefix(asset, None), RECORD_TYPES)
        keys = context.asset_partition_keys
        if len(keys) == 1 and context.has_partition_key:
            return read_bundle(store, asset_prefix(asset, keys[0]), RECORD_TYPES)
        return {key: read_bundle(store, asset_prefix(asset, key), RECORD_TYPES) for key in keys}


def storage_from_environment(settings: PipelineSettings) -> StorageResource:
    """The data folder, or S3 when `BENCHGEN_S3_BUCKET` is set. The endpoint comes from
    `BENCHGEN_S3_ENDPOINT` (for an S3-compatible server) and the credentials from the usual AWS
    variables, read as EnvVars so they never appear in the UI or the run config."""
    if not os.environ.get("BENCHGEN_S3_BUCKET"):
        return StorageResource(settings=settings)
    s3 = S3Connection(
        endpoint_url=env_or("BENCHGEN_S3_ENDPOINT", None),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=env_or("AWS_ACCESS_KEY_ID", None),
        aws_secret_access_key=env_or("AWS_SECRET_ACCESS_KEY", None),
        max_attempts=8,
    )
    return StorageResource(
        settings=settings,
        s3=s3,
        s3_bucket=EnvVar("BENCHGEN_S3_BUCKET"),
        s3_prefix=env_or("BENCHGEN_S3_PREFIX", "benchgen"),
    )
