"""Serve the demo platform: `run_demo_platform` for the CLI, `PlatformServer` on loopback for tests."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from lti_tool.demo.platform.app import create_platform_app
from lti_tool.demo.platform.config import DemoContext, PlatformConfig, build_demo_roster
from lti_tool.demo.platform.state import DemoPlatform

logger = logging.getLogger(__name__)


def demo_config(
    issuer: str,
    tool_base_url: str,
    *,
    student_count: int = 24,
    client_id: str = "mastery-bridge-demo",
    deployment_id: str = "demo-deployment-1",
) -> PlatformConfig:
    """A `PlatformConfig` for a mastery-bridge tool at `tool_base_url` using its usual LTI routes."""
    tool = tool_base_url.rstrip("/")
    return PlatformConfig(
        issuer=issuer,
        client_id=client_id,
        deployment_id=deployment_id,
        tool_login_url=f"{tool}/lti/login",
        tool_redirect_urls=(f"{tool}/lti/launch",),
        tool_jwks_url=f"{tool}/lti/jwks",
        context=DemoContext(id="demo-course-1", label="MATH-7", title="Grade 7 Mathematics"),
        users=build_demo_roster(student_count=student_count),
    )


class _QuietRequestHandler(WSGIRequestHandler):
    """Drops werkzeug's per-request access log, which floods test output at 1,000 requests."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class PlatformServer:
    """The demo platform on a werkzeug server in a background thread; use as a context manager.

    The port is bound first (0 picks a free one), so `make_config` receives the real base URL to use
    as the issuer.
    """

    def __init__(
        self,
        make_config: Callable[[str], PlatformConfig],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        is_quiet: bool = True,
    ) -> None:
        handler = _QuietRequestHandler if is_quiet else None
        self._server: BaseWSGIServer = make_server(
            host, port, self._dispatch, threaded=True, request_handler=handler
        )
        self.base_url = f"http://{host}:{self._server.server_port}"
        self.config = make_config(self.base_url)
        self.platform = DemoPlatform(self.config)
        self.app = create_platform_app(self.config, self.platform)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _dispatch(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve in the calling thread until `stop()` is called or the process is interrupted."""
        self._server.serve_forever(poll_interval=poll_interval)

    def start(self) -> PlatformServer:
        """Start serving in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> PlatformServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def run_demo_platform(host: str, port: int, tool_base_url: str, *, student_count: int = 24) -> None:
    """Serve the demo LMS at http://host:port for the tool at `tool_base_url` until interrupted."""
    server = PlatformServer(
        lambda base: demo_config(base, tool_base_url, student_count=student_count), host=host, port=port
    )
    logger.info("demo LMS at %s (tool %s)", server.base_url, tool_base_url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("demo LMS stopping")
    finally:
        server.stop()
