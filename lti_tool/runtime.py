"""Process-wide tuning for server processes (not for the CLI or tests)."""

from __future__ import annotations

import gc

# CPython's default first-generation threshold (700 allocations) makes a page that builds thousands of
# small objects (the 525-cell mastery grid) pay for several full collections per request: measured, the
# grid's p95 dropped from ~140 ms to ~100 ms with a larger threshold. Reference cycles are still
# collected, only less often.
GC_THRESHOLDS = (50_000, 20, 50)


def tune_garbage_collector() -> None:
    """Freeze the objects created while importing the app and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
