"""The demo LMS: a small LTI 1.3 platform (launch, JWKS, token, NRPS, AGS, deep linking) for dev and tests.

Import rule: Flask, joserfc, requests and `lti_tool.demo.platform` itself only; nothing in the tool's
launch path imports it, so the demo can never stand in for a real platform.
"""

from lti_tool.demo.platform.app import create_platform_app, create_platform_blueprint
from lti_tool.demo.platform.config import DemoContext, DemoUser, PlatformConfig, build_demo_roster
from lti_tool.demo.platform.serve import PlatformServer, demo_config, run_demo_platform
from lti_tool.demo.platform.state import DemoPlatform, ReceivedScore

__all__ = [
    "DemoContext",
    "DemoPlatform",
    "DemoUser",
    "PlatformConfig",
    "PlatformServer",
    "ReceivedScore",
    "build_demo_roster",
    "create_platform_app",
    "create_platform_blueprint",
    "demo_config",
    "run_demo_platform",
]
