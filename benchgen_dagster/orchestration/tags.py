"""The run tags benchgen sets, read by the sensors."""

BUILD_TAG = "benchgen/build"  # runs of `benchgen build`, which releases by itself
TRIGGER_TAG = "benchgen/trigger"  # what asked for a run: request, stale or repair
REPAIR_TAG = "benchgen/repair"  # the how-many-th repair of its partition a run is
FEEDBACK_TAG = "benchgen/curator_feedback"  # the curator's rejection a Coder's extra round answers
