"""When bulk work (a posting's grading, an export's rendering) may fork worker processes, and how many CPUs.

A fork copies only the calling thread: with other threads running (a web server's, or live servers a test
run left behind) the child can wait forever on a lock one of them held at that moment. So work forks only
from a process whose one thread is the caller, on a platform with fork, and not from a daemon process
(which may not have children); otherwise it runs in process, only slower.
"""

from __future__ import annotations

import multiprocessing
import os
import threading

__all__ = ["may_fork", "usable_cpus"]


def may_fork() -> bool:
    """Whether this process may fork workers now (see the module docstring)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and not multiprocessing.current_process().daemon
    )


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
