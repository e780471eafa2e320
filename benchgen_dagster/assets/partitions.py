"""One partition per generation request: a batch of variants of one family."""

from dagster import DynamicPartitionsDefinition

requests_partitions = DynamicPartitionsDefinition(name="requests")
