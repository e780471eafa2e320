"""The Dagster shell around the domain: definitions, jobs, sensors, staleness, the command
line's build driver and steps in containers."""
