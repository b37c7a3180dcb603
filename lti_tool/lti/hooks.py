"""What a launch sets off besides the landing page: the debounced NRPS roster refresh for teachers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from connectors.errors import ConnectorError
from lti_tool.lti.roster_sync import (
    DEFAULT_MIN_INTERVAL,
    RosterSyncError,
    RosterSyncResult,
    sync_roster_if_stale,
)
from lti_tool.lti.services import credentials_for, nrps_client
from lti_tool.models import LtiContext, LtiRegistration, RegistrationStatus

logger = logging.getLogger(__name__)


def refresh_roster(
    session: Session,
    lti_context_id: int,
    *,
    secret_key: str,
    now: datetime,
    min_interval: timedelta = DEFAULT_MIN_INTERVAL,
) -> RosterSyncResult | None:
    """Sync the context's roster through NRPS unless it was synced recently; never fails the launch.

    Runs in a savepoint: a platform that is down or answers nonsense costs a log line (counts and
    reason, no student data) and leaves the launch and the previous roster intact.
    """
    context = session.get(LtiContext, lti_context_id)
    if context is None or not context.memberships_url or context.class_id is None:
        return None
    registration = session.get(LtiRegistration, context.registration_id)
    if registration is None or registration.status is not RegistrationStatus.ACTIVE:
        return None
    try:
        with session.begin_nested():
            client = nrps_client(credentials_for(session, registration, secret_key, now=now))
            result = sync_roster_if_stale(
                session, context, context.memberships_url, source=client, now=now, min_interval=min_interval
            )
    except (ConnectorError, RosterSyncError) as exc:
        logger.warning("roster sync of LTI context %s skipped: %s", context.id, exc)
        return None
    if result is not None:
        logger.info(
            "roster sync of LTI context %s: %d created, %d updated, %d deactivated",
            context.id, result.created, result.updated, result.deactivated,
        )  # fmt: skip
    return result
