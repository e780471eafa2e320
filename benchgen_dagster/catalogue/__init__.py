"""What can be requested: the registry of built-in families, their catalogue of requests,
and the request files operators drop in."""
