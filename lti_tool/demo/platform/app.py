"""`create_platform_app`: the demo LMS as a Flask app with one blueprint."""

from __future__ import annotations

from flask import Blueprint, Flask

from lti_tool.demo.platform import launch, registration, services
from lti_tool.demo.platform.config import PlatformConfig
from lti_tool.demo.platform.errors import register_error_handlers
from lti_tool.demo.platform.state import EXTENSION_KEY, DemoPlatform


def create_platform_blueprint() -> Blueprint:
    """Every route of the demo platform; the app must hold a `DemoPlatform` in `extensions`."""
    bp = Blueprint("demo_platform", __name__)
    bp.add_url_rule("/", view_func=launch.home)
    bp.add_url_rule("/platform/launch/<user_id>", view_func=launch.launch_page)
    bp.add_url_rule("/platform/initiate", view_func=launch.initiate)
    bp.add_url_rule("/platform/authorize", view_func=launch.authorize, methods=["GET", "POST"])
    bp.add_url_rule("/platform/jwks", view_func=launch.jwks)
    bp.add_url_rule("/platform/deep_link_return", view_func=launch.deep_link_return, methods=["POST"])
    bp.add_url_rule("/platform/token", view_func=services.token, methods=["POST"])
    bp.add_url_rule("/platform/.well-known/openid-configuration", view_func=registration.openid_configuration)
    bp.add_url_rule("/platform/register", view_func=registration.register, methods=["POST"])
    api = "/platform/api/contexts/<context_id>"
    bp.add_url_rule(f"{api}/memberships", view_func=services.memberships)
    bp.add_url_rule(f"{api}/lineitems", view_func=services.line_items, methods=["GET", "POST"])
    bp.add_url_rule(
        f"{api}/lineitems/<int:item_id>", view_func=services.line_item, methods=["GET", "PUT", "DELETE"]
    )
    bp.add_url_rule(f"{api}/lineitems/<int:item_id>/scores", view_func=services.scores, methods=["POST"])
    bp.add_url_rule(f"{api}/lineitems/<int:item_id>/results", view_func=services.results)
    register_error_handlers(bp)
    return bp


def create_platform_app(config: PlatformConfig, platform: DemoPlatform | None = None) -> Flask:
    """The demo LMS for `config`; pass `platform` to share keys and state with the caller (tests)."""
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = platform or DemoPlatform(config)
    app.register_blueprint(create_platform_blueprint())
    return app
