"""Spins forever: stopped by the variant time limit."""


def build(seed, params):
    while True:
        pass
