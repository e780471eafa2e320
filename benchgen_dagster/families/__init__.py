"""The built-in scenario families, one script per module; `benchgen_dagster.registry` lists
them. Scripts import only build123d, the standard library and `benchgen_dagster.kit`, so they
load inside a sandbox that has nothing else."""
