"""`python -m lti_tool.demo.sis [--host H] [--port P]`: serve the demo district's fake SIS until interrupted."""

from __future__ import annotations

import argparse
import logging

from lti_tool.demo.sis.serve import run_fake_sis


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="python -m lti_tool.demo.sis", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5002)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_fake_sis(args.host, args.port)


if __name__ == "__main__":
    main()
