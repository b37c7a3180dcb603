"""The Flask application factory."""

from __future__ import annotations

import atexit

from flask import Flask
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix

from lti_tool.db import make_engine, make_session_factory
from lti_tool.settings import Settings, load_settings
from lti_tool.web import errors, health, home, launch, lti, registrar, registration, student, teacher
from lti_tool.web import exports as export_pages
from lti_tool.web import staff as staff_pages
from lti_tool.web import staff_sis as sis_pages
from lti_tool.web.session import AppState, init_app


def create_app(settings: Settings | None = None) -> Flask:
    """Build the tool's Flask app from `settings` (default: read from the environment)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secret_key, DEBUG=settings.is_debug)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # One TLS-terminating proxy in front (gunicorn behind nginx, a PaaS router): trust its
    # X-Forwarded-For/Proto/Host/Port so url_for(_external=True) and Secure cookies see https.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)  # type: ignore[method-assign]
    # gzip/brotli for HTML, CSS and JS: a 35-student grid is ~380 KB of markup but ~11 KB on the wire.
    # Flask-Compress negotiates Accept-Encoding and sets Vary, which hand-rolled middleware gets wrong.
    app.config.update(COMPRESS_MIMETYPES=["text/html", "text/css", "text/javascript", "application/javascript", "application/json"],
                      COMPRESS_MIN_SIZE=1024, COMPRESS_ALGORITHM=["br", "gzip"],
                      COMPRESS_STREAMS=False)  # fmt: skip
    Compress(app)

    engine = make_engine(settings.database_url)
    state = AppState(settings=settings, engine=engine, session_factory=make_session_factory(engine))
    init_app(app, state)
    atexit.register(state.dispose)

    errors.register_error_handlers(app)
    app.register_blueprint(lti.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(launch.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(registration.bp)
    app.register_blueprint(staff_pages.bp)
    app.register_blueprint(sis_pages.bp)
    app.register_blueprint(export_pages.bp)
    app.register_blueprint(registrar.bp)
    app.register_blueprint(student.bp)
    app.register_blueprint(teacher.bp)
    return app
