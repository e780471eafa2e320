"""Storage of asset values: records as JSON, media as real files beside them."""

from dagster import ConfigurableIOManager, ConfigurableResource, InputContext, OutputContext
from pydantic import BaseModel

from benchgen_dagster import schema
from benchgen_dagster.resources.settings import PipelineSettings
from benchgen_dagster.storage import LocalStore, Store, read_bundle, write_bundle

RECORD_TYPES: dict[str, type[BaseModel]] = {
    cls.__name__: cls
    for cls in (
        schema.GenerationRequest,
        schema.FamilyPlan,
        schema.FamilyScript,
        schema.VariantBatch,
        schema.ValidationBatch,
        schema.RenderBatch,
        schema.ShardBatch,
        schema.DatasetManifest,
    )
}
ASSETS_PREFIX = "assets"


class StorageResource(ConfigurableResource):
    """The store behind the IO manager and the dataset release: the data folder by default."""

    settings: PipelineSettings

    def store(self) -> Store:
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
        context.add_output_metadata({"path": self.storage.store().uri(prefix)})

    def load_input(self, context: InputContext) -> object:
        asset = context.asset_key.to_user_string()
        store = self.storage.store()
        if not context.has_asset_partitions:
            return read_bundle(store, asset_prefix(asset, None), RECORD_TYPES)
        keys = context.asset_partition_keys
        if len(keys) == 1 and context.has_partition_key:
            return read_bundle(store, asset_prefix(asset, keys[0]), RECORD_TYPES)
        return {key: read_bundle(store, asset_prefix(asset, key), RECORD_TYPES) for key in keys}
