# The cleanup guard: a detached process that outlives the harness and deletes the run's namespaces
# (and kills what still runs in them) as soon as the harness is gone, however it ended, SIGKILL
# included. The harness holds the write end of a pipe that is the guard's stdin; the guard wakes on
# EOF. It is double-forked into its own session so that neither a terminal's Ctrl-C nor a test
# driver killing the harness's process tree reaches it.
from __future__ import annotations

import os
import signal
import subprocess
import sys

from . import fabric as fab


def start(harness: str, tag: str) -> subprocess.Popen:
    """Starts the guard for the namespaces named "<PREFIX><tag>-*". Close .stdin to release."""
    p = subprocess.Popen([sys.executable, harness, "_guard", tag], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL)
    p.wait(30)  # the intermediate process exits at once; the guard itself is reparented
    if p.returncode != 0:
        raise fab.FabricError(f"the cleanup guard did not start (exit {p.returncode})")
    return p


def main(tag: str) -> int:
    """Body of the `_guard` subcommand."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    os.chdir("/")
    while os.read(0, 4096):
        pass
    left = fab.list_namespaces(f"{fab.PREFIX}{tag}-")
    if left:
        errors = fab.delete_namespaces(left)
        try:
            print(f"netns guard: removed {len(left) - len(errors)} namespace(s) of a harness "
                  f"that ended without cleaning up: {' '.join(left)}", file=sys.stderr, flush=True)
            for e in errors:
                print(f"netns guard: {e}", file=sys.stderr, flush=True)
        except OSError:
            pass
    return 0
