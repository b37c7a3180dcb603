"""Serve a `FakeOneRoster`: `serve(fake)` on loopback for tests, `run_fake_sis` for `make demo`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from lti_tool.demo.sis.seed import seed_from_district
from lti_tool.demo.sis.server import GRADEBOOK_V1P2, PREFIX, V1P1, V1P2, FakeOneRoster

logger = logging.getLogger(__name__)

DEMO_CLIENT_ID = "mastery-bridge-demo-sis"
DEMO_CLIENT_SECRET = "demo-sis-secret"  # noqa: S105 - the demo SIS's published, loopback-only credential


class _QuietRequestHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive, as real SIS servers speak it, without werkzeug's per-request access log."""

    # werkzeug defaults to HTTP/1.0, a new TCP connection per request; a push makes 100,000 of them.
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class RunningServer:
    """A `FakeOneRoster` on a werkzeug server in a background thread; `base_url` includes the vendor prefix."""

    def __init__(self, fake: FakeOneRoster, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fake = fake
        self._server: BaseWSGIServer = make_server(
            host, port, self._dispatch, threaded=True, request_handler=_QuietRequestHandler
        )
        self.origin = f"http://{host}:{self._server.server_port}"
        self.base_url = f"{self.origin}{PREFIX}"
        self.token_url = f"{self.base_url}/token"
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_port)

    def rostering_url(self, version: str = "1.2") -> str:
        """The rostering base URL for OneRoster `version` ("1.1" or "1.2")."""
        return self.base_url + (V1P1 if version == "1.1" else V1P2)

    def gradebook_url(self, version: str = "1.2") -> str:
        """The gradebook base URL for OneRoster `version` (1.1 shares the rostering base)."""
        return self.base_url + (V1P1 if version == "1.1" else GRADEBOOK_V1P2)

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.fake.app(environ, start_response)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve in the calling thread until `stop()`."""
        self._server.serve_forever(poll_interval=poll_interval)

    def start(self) -> RunningServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> RunningServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def serve(fake: FakeOneRoster, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningServer]:
    """Run `fake` on `host` (loopback, a free port by default) for the duration of the block."""
    with RunningServer(fake, host=host, port=port) as running:
        yield running


def demo_fake(*, client_id: str = DEMO_CLIENT_ID, client_secret: str = DEMO_CLIENT_SECRET) -> FakeOneRoster:
    """A fake SIS holding the demo district, with the demo credentials."""
    fake = FakeOneRoster(client_id=client_id, client_secret=client_secret)
    seed_from_district(fake)
    return fake


def run_fake_sis(host: str, port: int, fake: FakeOneRoster | None = None) -> None:
    """Serve `fake` (default: the demo district's SIS) at http://host:port until interrupted."""
    server = RunningServer(fake or demo_fake(), host=host, port=port)
    logger.info(
        "demo SIS at %s (rostering %s, gradebook %s, token %s)",
        server.base_url,
        server.rostering_url(),
        server.gradebook_url(),
        server.token_url,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("demo SIS stopping")
    finally:
        server.stop()
