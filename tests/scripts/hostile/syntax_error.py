"""Does not parse."""

def build(seed, params)
    return None
