"""The demo SIS: a fake OneRoster 1.1 + 1.2 server (rostering and gradebook) with vendor quirks.

Import rule: Flask and werkzeug for serving, `lti_tool.demo.district` for seed data; never the database.
Tests import it through `tests.support.oneroster_fake`; `make demo` runs it with `run_fake_sis`
(`python -m lti_tool.demo.sis --port 5002`).
"""

from lti_tool.demo.sis.seed import seed_from_district
from lti_tool.demo.sis.serve import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    RunningServer,
    demo_fake,
    run_fake_sis,
    serve,
)
from lti_tool.demo.sis.server import (
    DEFAULT_SCOPES,
    GRADEBOOK_V1P2,
    PREFIX,
    SCOPE_V1P1,
    SCOPE_V1P2,
    V1P1,
    V1P2,
    FakeOneRoster,
    Quirks,
)

__all__ = [
    "DEFAULT_SCOPES",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "GRADEBOOK_V1P2",
    "PREFIX",
    "SCOPE_V1P1",
    "SCOPE_V1P2",
    "V1P1",
    "V1P2",
    "FakeOneRoster",
    "Quirks",
    "RunningServer",
    "demo_fake",
    "run_fake_sis",
    "seed_from_district",
    "serve",
]
