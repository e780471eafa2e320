"""Allocates memory without end (bounded at 3 GiB in case the sandbox is broken)."""


def build(seed, params):
    hoard = []
    for _ in range(60):
        hoard.append(bytearray(50 << 20))
    raise AssertionError(f"allocated {len(hoard) * 50} MiB without being stopped")
