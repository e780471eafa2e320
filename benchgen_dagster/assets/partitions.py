"""One partition per generation request, and the retry policy every step shares."""

from dagster import Backoff, DynamicPartitionsDefinition, Jitter, RetryPolicy

requests_partitions = DynamicPartitionsDefinition(name="requests")

# A transient fault (an S3 or Docker daemon hiccup) gets two more tries, 1 s then 2 s later.
STEP_RETRIES = RetryPolicy(
    max_retries=2, delay=1.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
# Marks a step failure that another try cannot mend (bad input): `Failure(metadata=...)`.
RETRYABLE = "retryable"
