"""Double-forks a child into a new session to outlive the worker, then exits the worker."""

import os


def build(seed, params):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", str(params["marker_seconds"])])
        os._exit(0)
    os._exit(3)
