"""The app's database handles and the request-scoped session: opened lazily, committed on success.

A response below 400 commits (before it is sent, so a failed commit becomes a 500); anything else, or an
exception, rolls back. Views call `db_session()` and never commit themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response, current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.settings import Settings

_EXTENSION = "mastery_bridge"


@dataclass(frozen=True, slots=True)
class AppState:
    """What `create_app` builds once per process and stores in `app.extensions`."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]

    def dispose(self) -> None:
        """Close the engine's pooled connections (at process exit, or when a test is done with the app)."""
        self.engine.dispose()


def init_app(app: Flask, state: AppState) -> None:
    """Store `state` on `app` and install the commit/rollback hooks."""
    app.extensions[_EXTENSION] = state
    app.after_request(_commit_on_success)
    app.teardown_request(_close_session)


def app_state(app: Flask | None = None) -> AppState:
    """The AppState of `app` (default: the current app)."""
    state = (app or current_app).extensions[_EXTENSION]
    if not isinstance(state, AppState):  # pragma: no cover - only init_app writes this key
        raise TypeError(f"app.extensions[{_EXTENSION!r}] is {type(state).__name__}, not AppState")
    return state


def db_session() -> Session:
    """The session of the current request, opened on first use."""
    session = g.get("db_session")
    if session is None:
        session = app_state().session_factory()
        g.db_session = session
    if not isinstance(session, Session):  # pragma: no cover - only this function writes g.db_session
        raise TypeError("g.db_session is not a SQLAlchemy Session")
    return session


def _commit_on_success(response: Response) -> Response:
    session = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        # close() rolls back whatever after_request did not commit (an exception, an error page).
        session.close()
