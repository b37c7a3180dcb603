"""Benchmark: proficiency throughput (scores per second) of every method on one core.

Run by hand: `.venv/bin/python benchmarks/translate_core.py [--students N]`. The data is generated
deterministically (random.Random(seed)) before any timing starts.
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal

from mappings import METHOD_NAMES, calculate, resolve_method

COURSES = 6
INDICATORS = 12
SCORES = 8
#: Scores per second each method must reach; methods without a target are reported only.
TARGETS = {"most_recent": 1_000_000, "mean": 1_000_000, "decaying_average": 1_000_000, "power_law": 300_000}
_VALUES = [Decimal(v) for v in ("0", "1", "2", "3", "4", "0.5", "1.5", "2.5", "3.5")]


def generate(students: int, seed: int) -> list[list[Decimal]]:
    """One series of SCORES Decimal scores per (student, course, indicator): mostly integers, some halves."""
    rng = random.Random(seed)
    integers, halves = _VALUES[:5], _VALUES[5:]
    series = []
    for _ in range(students * COURSES * INDICATORS):
        series.append(
            [rng.choice(halves) if rng.random() < 0.2 else rng.choice(integers) for _ in range(SCORES)]
        )
    return series


def run(students: int, seed: int, *, also_calculate: bool) -> None:
    """Time every method over every series and print scores/s against the targets."""
    started = time.perf_counter()
    series = generate(students, seed)
    total = len(series) * SCORES
    print(
        f"{students} students x {COURSES} courses x {INDICATORS} indicators x {SCORES} scores = {total:,} scores"
    )
    print(f"(generated in {time.perf_counter() - started:.1f}s, not timed)\n")
    print(f"{'method':<18} {'path':<10} {'seconds':>8} {'scores/s':>12} {'target':>10}  result")
    for name in METHOD_NAMES:
        params = (
            {"minimum": Decimal(0), "maximum": Decimal(4)} if name in ("power_law", "linear_trend") else {}
        )
        method = resolve_method(name, **params)
        compute = method.compute
        started = time.perf_counter()
        for scores in series:
            compute(scores)
        _report(name, "Method", time.perf_counter() - started, total)
        if also_calculate:
            started = time.perf_counter()
            for scores in series:
                calculate(name, scores, **params)
            _report(name, "calculate", time.perf_counter() - started, total)


def _report(name: str, path: str, seconds: float, total: int) -> None:
    rate = total / seconds
    target = TARGETS.get(name)
    verdict = "-" if target is None else ("PASS" if rate >= target else "BELOW")
    target_text = "" if target is None else f"{target:,}"
    print(f"{name:<18} {path:<10} {seconds:8.2f} {rate:12,.0f} {target_text:>10}  {verdict}", flush=True)


def main() -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--calculate", action="store_true", help="also time calculate() (the checked path)")
    args = parser.parse_args()
    run(args.students, args.seed, also_calculate=args.calculate)


if __name__ == "__main__":
    main()
