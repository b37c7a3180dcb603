"""Identity matching between LMS people and contexts (from LTI) and SIS people and classes (from the pull).

People, in order of evidence:
1. the LTI `lis` person_sourcedid (LTI Core 1.3 §5.4.5; stored by launches and NRPS sync as
   `PersonIdentifier(sis, "lis", ...)`) equal to a SIS user's sourcedId;
2. else the LMS email equal (case-insensitively) to one SIS user's email or username.
Contexts: the `lis` course_section_sourcedid (kept on `LtiContext`) equal to a SIS class's sourcedId.

Never a guess: two candidates, evidence that disagrees (the lis id names one SIS user and the email
another), a SIS user already linked to another account on the same platform, or no candidate at all
opens an `IdentityReview` for IT staff (`open_reviews`, `resolve_review`). A match merges the two rows
(`lti_tool.sis.identity_merge`), audited. Functions take a `Session` and never commit; review reasons
and audit details name ids and sourcedIds, never names or emails.
"""

from lti_tool.sis.identity_classes import match_classes
from lti_tool.sis.identity_common import SYNC_ACTOR, MatchReport
from lti_tool.sis.identity_merge import IdentityError, MergeError, merge_classes, merge_people
from lti_tool.sis.identity_people import match_people
from lti_tool.sis.identity_reviews import open_reviews, resolve_review

__all__ = [
    "SYNC_ACTOR",
    "IdentityError",
    "MatchReport",
    "MergeError",
    "match_classes",
    "match_people",
    "merge_classes",
    "merge_people",
    "open_reviews",
    "resolve_review",
]
