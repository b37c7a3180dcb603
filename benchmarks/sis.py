"""Benchmark issue 5's SIS targets in one run: the roster pull and the grade push (run by hand).

    .venv/bin/python benchmarks/sis.py [--database-url postgresql+psycopg://root@127.0.0.1:5432/root]

Runs benchmarks/sis_pull.py (50,000 users + 300,000 enrollments at page size 1,000 into PostgreSQL,
target >= 5,000 records/s; a 1% delta, target < 5 s) and then benchmarks/sis_push.py (100,000 results to
the fake SIS, target >= 500 results/s with one token request per token lifetime), each in its own process
so one's memory and threads do not colour the other's figures. Each prints its own figures and floor.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql+psycopg://root@127.0.0.1:5432/root")
    parser.add_argument("--skip-pull", action="store_true")
    parser.add_argument("--skip-push", action="store_true")
    args = parser.parse_args()
    status = 0
    steps = [("pull", "sis_pull.py", args.skip_pull), ("push", "sis_push.py", args.skip_push)]
    for label, script, skip in steps:
        if skip:
            continue
        print(f"== SIS {label} ==", flush=True)
        done = subprocess.run(
            [sys.executable, str(HERE / script), "--database-url", args.database_url], check=False
        )
        status = status or done.returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
