"""The built-in scenario families: one family script per module, listed by
`benchgen_dagster.catalogue.registry`.

A family script runs only inside the sandbox, so it may import nothing but:

- the standard library, `build123d` and `numpy` (the worker image holds these);
- `benchgen_dagster.kit`: `Zone`, `Payload`, `ScenarioBuild`, `Joint`, `Actuator`, `draw`,
  `attempts`;
- `benchgen_dagster.kit.parts`: slabs, walls, planks, prisms and `budget`.

Its code version hashes the script and the kit, so a change to either makes its partitions
stale. Besides `build(seed, params)` a family module declares, as literals the registry reads
without running it: `PARAMS` (randomisation ranges), `PAYLOAD`, `ZONES` and `SOLUTION` (what
the payload is, where the zones are and how the reference solution works, in words), and
optionally `SPLIT`.
"""
