"""A released dataset: its reader (`load`, `find_sample`, `shard_urls`, `verify`) for consumers,
and, in the modules beside it, the writer of releases (shards, index, manifest, card, figures,
diversity) and the terminal summary.

from benchgen_dagster.dataset import load
for sample in load("data/datasets/default", split="train"):
    model = sample.model()          # mujoco.MjModel, nothing else needed
    print(sample.scenario.goal_zone)
"""

from benchgen_dagster.dataset.reader import (
    DatasetError,
    ScenarioSample,
    Verification,
    find_sample,
    hf_features,
    lineage,
    load,
    read_index,
    read_manifest,
    shard_urls,
    verify,
)

__all__ = [
    "DatasetError",
    "ScenarioSample",
    "Verification",
    "find_sample",
    "hf_features",
    "lineage",
    "load",
    "read_index",
    "read_manifest",
    "shard_urls",
    "verify",
]
