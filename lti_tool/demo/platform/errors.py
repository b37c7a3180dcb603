"""The demo platform's one error type and the Flask handler that renders it (JSON for APIs, HTML for pages)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template_string

from lti_tool.demo.platform.pages import ERROR_PAGE


class PlatformRequestError(Exception):
    """A request the demo platform refuses; `error` is the OAuth/OIDC error code where one applies."""

    def __init__(
        self, message: str, *, status: int = 400, error: str = "invalid_request", is_api: bool = True
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error = error
        self.is_api = is_api


def register_error_handlers(blueprint: Blueprint) -> None:
    """Render `PlatformRequestError` raised by any view of `blueprint`."""

    @blueprint.errorhandler(PlatformRequestError)
    def handle_platform_error(exc: PlatformRequestError) -> tuple[Response | str, int, dict[str, str]]:
        headers: dict[str, str] = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
        if exc.is_api:
            return jsonify(error=exc.error, error_description=exc.message), exc.status, headers
        return render_template_string(ERROR_PAGE, message=exc.message), exc.status, headers
