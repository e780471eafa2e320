"""Reaches for the network: a public address, then a server on the host's loopback."""

import socket


def build(seed, params):
    for address in (("1.1.1.1", 80), ("127.0.0.1", params["host_port"])):
        with socket.create_connection(address, timeout=2) as connection:
            connection.sendall(b"exfiltrated")
    raise AssertionError("reached the network")
