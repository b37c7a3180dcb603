"""The pure grade-translation core: evidence -> proficiency -> letter -> GPA.

Import rule: the standard library only. No I/O, no clock, no environment, no globals;
a policy is a value passed in. Nothing here imports `connectors` or `lti_tool`.
"""

from mappings.errors import MappingError, PolicyError
from mappings.explain import render_conversion_scale, render_explanation
from mappings.gpa import GpaLine, GpaResult, compute_gpa
from mappings.grading import grade_composite, grade_final, grade_period, grade_periods
from mappings.methods import METHOD_NAMES, Method, calculate, describe_method, resolve_method
from mappings.ncaa import (
    DivisionCheck,
    NcaaCourseGrade,
    NcaaLine,
    NcaaOutcome,
    NcaaResult,
    Requirement,
    RequirementStatus,
    compute_ncaa,
)
from mappings.policy import (
    CapRule,
    EvidenceRules,
    FormativeMode,
    GpaRules,
    NcaaRules,
    PercentMapping,
    PercentPoint,
    PeriodComponent,
    PeriodMode,
    PeriodRules,
    Policy,
    ProficiencyScale,
    RoundingRule,
    ScaleLevel,
)
from mappings.policy_toml import load_shipped_policy, parse_policy, shipped_policy_names
from mappings.records import (
    Course,
    CourseGrade,
    CourseLevel,
    CutRow,
    Evidence,
    EvidenceKind,
    Exclusion,
    GradeStatus,
    GradingPeriod,
    IndicatorResult,
    NcaaArea,
)
from mappings.rounding import Rounding, quantize

__all__ = [
    "METHOD_NAMES",
    "CapRule",
    "Course",
    "CourseGrade",
    "CourseLevel",
    "CutRow",
    "DivisionCheck",
    "Evidence",
    "EvidenceKind",
    "EvidenceRules",
    "Exclusion",
    "FormativeMode",
    "GpaLine",
    "GpaResult",
    "GpaRules",
    "GradeStatus",
    "GradingPeriod",
    "IndicatorResult",
    "MappingError",
    "Method",
    "NcaaArea",
    "NcaaCourseGrade",
    "NcaaLine",
    "NcaaOutcome",
    "NcaaResult",
    "NcaaRules",
    "PercentMapping",
    "PercentPoint",
    "PeriodComponent",
    "PeriodMode",
    "PeriodRules",
    "Policy",
    "PolicyError",
    "ProficiencyScale",
    "Requirement",
    "RequirementStatus",
    "Rounding",
    "RoundingRule",
    "ScaleLevel",
    "calculate",
    "compute_gpa",
    "compute_ncaa",
    "describe_method",
    "grade_composite",
    "grade_final",
    "grade_period",
    "grade_periods",
    "load_shipped_policy",
    "parse_policy",
    "quantize",
    "render_conversion_scale",
    "render_explanation",
    "resolve_method",
    "shipped_policy_names",
]
