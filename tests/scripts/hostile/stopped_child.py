"""Leaves a child that ignores SIGTERM and stops itself, then hangs."""

import os
import signal
import subprocess
import time


def build(seed, params):
    subprocess.Popen(
        ["sleep", str(params["marker_seconds"])],
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
    )
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    time.sleep(10**6)
