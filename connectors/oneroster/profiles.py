"""Vendor profiles: what each SIS's OneRoster service accepts, loaded from `profiles/*.toml`.

A profile is data, not code: limits (page size, title and category lengths), where a letter grade goes
(`textScore`, `comment` or line-item/result metadata), scopes and their prefix, OAuth details and
whether the vendor only accepts grades while a grading window is open. Every TOML cites its sources.
A bad file raises `ProfileError` naming the file and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, TypeVar

from connectors.oneroster.auth import SignatureMethod, TokenEndpointAuthMethod
from connectors.oneroster.records import OneRosterVersion

PROFILE_PACKAGE: Final = "connectors.oneroster"
PROFILE_DIR: Final = "profiles"
SCOPE_PREFIX_V1P2: Final = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
SCOPE_PREFIX_V1P1: Final = "https://purl.imsglobal.org/spec/or/v1p1/scope/"

StrEnumT = TypeVar("StrEnumT", bound=StrEnum)


class ProfileError(ValueError):
    """A profile file is missing or invalid; the message names the file and the field."""

    def __init__(self, message: str, *, file: str, field: str | None = None) -> None:
        where = file if field is None else f"{file}, field {field!r}"
        super().__init__(f"{where}: {message}")
        self.file = file
        self.field = field


class LetterVia(StrEnum):
    """Where the letter grade travels: 1.2 `textScore`, the result `comment`, or result metadata."""

    TEXT_SCORE = "text_score"
    COMMENT = "comment"
    METADATA = "metadata"


class AuthKind(StrEnum):
    """How the district's API is authorised."""

    OAUTH2 = "oauth2"
    OAUTH1 = "oauth1"


class CategoryScope(StrEnum):
    """What a gradebook category must be unique within; decides the category sourcedId."""

    SCHOOL = "school"
    TEACHER = "teacher"  # PowerSchool: category names are unique per teacher
    CLASS = "class"


@dataclass(frozen=True, slots=True)
class Source:
    """A document a profile fact comes from."""

    title: str
    url: str


@dataclass(frozen=True, slots=True)
class VendorProfile:
    """One vendor's OneRoster behaviour; see `profiles/<name>.toml` for each value's source."""

    name: str
    display_name: str
    versions: tuple[OneRosterVersion, ...]
    default_version: OneRosterVersion
    max_page_size: int
    title_max_chars: int | None
    category_max_chars: int | None
    letter_via: LetterVia
    auth: AuthKind
    sources: tuple[Source, ...]
    scope_prefix: str | None = None  # a vendor's own prefix; None means the 1EdTech prefix of the version
    roster_scopes: tuple[str, ...] = ("roster-core.readonly",)
    demographics_scopes: tuple[str, ...] = ("roster-demographics.readonly",)
    gradebook_scopes: tuple[str, ...] = ("gradebook.createput", "gradebook.readonly")
    token_auth_method: TokenEndpointAuthMethod = TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
    oauth1_signature: SignatureMethod | None = None
    needs_token_cookies: bool = False
    has_grading_window: bool = False
    grading_window_markers: tuple[str, ...] = ()
    category_title: str = "Term Grade"
    category_scope: CategoryScope = CategoryScope.SCHOOL
    can_put_categories: bool = True
    can_put_score_scales: bool = True
    line_item_metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    letter_metadata_key: str | None = None
    notes: str = ""

    def clip_title(self, text: str) -> str:
        """`text` cut to the vendor's line-item title limit (on a word boundary when one is near)."""
        return _clip(text, self.title_max_chars)

    def clip_category(self, text: str) -> str:
        """`text` cut to the vendor's category title limit."""
        return _clip(text, self.category_max_chars)

    def scope(self, name: str, version: OneRosterVersion | None = None) -> str:
        """A scope as this vendor spells it for `version` (default: the profile's), e.g. for `gradebook.createput`."""
        if "://" in name:
            return name
        if self.scope_prefix is not None:
            return self.scope_prefix + name
        chosen = version or self.default_version
        return (SCOPE_PREFIX_V1P1 if chosen is OneRosterVersion.V1P1 else SCOPE_PREFIX_V1P2) + name

    def scopes(
        self,
        version: OneRosterVersion | None = None,
        *,
        roster: bool = True,
        gradebook: bool = False,
        demographics: bool = False,
    ) -> tuple[str, ...]:
        """The full scope strings to request for the chosen services (1.1 §7, 1.2 §4 scope URIs)."""
        names = (
            (self.roster_scopes if roster else ())
            + (self.demographics_scopes if demographics else ())
            + (self.gradebook_scopes if gradebook else ())
        )
        return tuple(dict.fromkeys(self.scope(name, version) for name in names))

    def supports(self, version: OneRosterVersion) -> bool:
        """Whether this vendor offers `version`."""
        return version in self.versions


def _clip(text: str, limit: int | None) -> str:
    text = " ".join(text.split())
    if limit is None or len(text) <= limit:
        return text
    cut = text[:limit].rstrip()
    space = cut.rfind(" ")
    # Prefer a word boundary unless that would throw away more than a third of the room.
    return cut[:space].rstrip() if space >= limit * 2 // 3 else cut


# --- loading -------------------------------------------------------------------------------------

_KNOWN_KEYS: Final = frozenset(
    {
        "name",
        "display_name",
        "versions",
        "default_version",
        "max_page_size",
        "title_max_chars",
        "category_max_chars",
        "letter_via",
        "auth",
        "scope_prefix",
        "roster_scopes",
        "demographics_scopes",
        "gradebook_scopes",
        "token_auth_method",
        "oauth1_signature",
        "needs_token_cookies",
        "has_grading_window",
        "grading_window_markers",
        "category_title",
        "category_scope",
        "can_put_categories",
        "can_put_score_scales",
        "line_item_metadata",
        "letter_metadata_key",
        "notes",
        "sources",
    }
)


class _Reader:
    """Typed access to one TOML table; every failure names the file and the field."""

    def __init__(self, data: Mapping[str, Any], file: str) -> None:
        self.data = data
        self.file = file

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(problem, file=self.file, field=key)

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(
                key, "is missing" if value is None else f"must be a non-empty string, not {value!r}"
            )
        return value.strip()

    def optional_text(self, key: str) -> str | None:
        return self.text(key) if key in self.data else None

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def count(self, key: str, *, low: int, high: int, optional: bool = False) -> int | None:
        if key not in self.data:
            if optional:
                return None
            raise self.fail(key, "is missing")
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"must be a whole number from {low} to {high}, not {value!r}")
        return value

    def texts(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, f"must be a list of non-empty strings, not {value!r}")
        return tuple(v.strip() for v in value)

    def choice(self, key: str, enum: type[StrEnumT], default: StrEnumT | None = None) -> StrEnumT:
        if key not in self.data and default is not None:
            return default
        raw = self.text(key)
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            raise self.fail(key, f"{raw!r} is not one of {allowed}") from None

    def string_table(self, key: str) -> Mapping[str, str]:
        value = self.data.get(key, {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.fail(key, "must be a table of string values")
        return MappingProxyType(dict(value))


def _versions(reader: _Reader) -> tuple[OneRosterVersion, ...]:
    raw = reader.texts("versions", ())
    if not raw:
        raise reader.fail("versions", "must list at least one of 1.1, 1.2")
    try:
        return tuple(OneRosterVersion(v) for v in raw)
    except ValueError:
        raise reader.fail("versions", f"{list(raw)!r} may hold only 1.1 and 1.2") from None


def _sources(reader: _Reader) -> tuple[Source, ...]:
    value = reader.data.get("sources")
    if not isinstance(value, list) or not value:
        raise reader.fail("sources", "must list at least one [[sources]] table with title and url")
    found: list[Source] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise reader.fail(f"sources[{index}]", "must be a table with title and url")
        inner = _Reader(item, reader.file)
        title, url = inner.text("title"), inner.text("url")
        if not url.startswith(("https://", "http://")):
            raise reader.fail(f"sources[{index}].url", f"{url!r} is not an http(s) URL")
        found.append(Source(title=title, url=url))
    return tuple(found)


def parse_profile(data: Mapping[str, Any], *, file: str) -> VendorProfile:
    """A `VendorProfile` from a decoded TOML table; `file` names it in errors."""
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ProfileError("is not a profile field", file=file, field=unknown[0])
    r = _Reader(data, file)
    versions = _versions(r)
    default_version = r.choice("default_version", OneRosterVersion, versions[0])
    if default_version not in versions:
        raise r.fail("default_version", f"{default_version.value} is not in versions")
    letter_via = r.choice("letter_via", LetterVia)
    letter_key = r.optional_text("letter_metadata_key")
    if letter_via is LetterVia.METADATA and letter_key is None:
        raise r.fail("letter_metadata_key", "is required when letter_via is metadata")
    if letter_via is LetterVia.TEXT_SCORE and versions == (OneRosterVersion.V1P1,):
        raise r.fail("letter_via", "text_score needs OneRoster 1.2; 1.1 results have no textScore")
    auth = r.choice("auth", AuthKind)
    oauth1 = r.choice("oauth1_signature", SignatureMethod) if "oauth1_signature" in data else None
    if auth is AuthKind.OAUTH1 and oauth1 is None:
        raise r.fail("oauth1_signature", "is required when auth is oauth1")
    has_window = r.flag("has_grading_window", False)
    markers = r.texts("grading_window_markers", ())
    if has_window and not markers:
        raise r.fail("grading_window_markers", "must list what the vendor says when the window is closed")
    profile = VendorProfile(
        name=r.text("name"),
        display_name=r.text("display_name"),
        versions=versions,
        default_version=default_version,
        max_page_size=r.count("max_page_size", low=1, high=10_000) or 100,
        title_max_chars=r.count("title_max_chars", low=8, high=1000, optional=True),
        category_max_chars=r.count("category_max_chars", low=8, high=1000, optional=True),
        letter_via=letter_via,
        auth=auth,
        sources=_sources(r),
        scope_prefix=r.optional_text("scope_prefix"),
        roster_scopes=r.texts("roster_scopes", ("roster-core.readonly",)),
        demographics_scopes=r.texts("demographics_scopes", ("roster-demographics.readonly",)),
        gradebook_scopes=r.texts("gradebook_scopes", ("gradebook.createput", "gradebook.readonly")),
        token_auth_method=r.choice(
            "token_auth_method", TokenEndpointAuthMethod, TokenEndpointAuthMethod.CLIENT_SECRET_BASIC
        ),
        oauth1_signature=oauth1,
        needs_token_cookies=r.flag("needs_token_cookies", False),
        has_grading_window=has_window,
        grading_window_markers=tuple(m.lower() for m in markers),
        category_title=r.text("category_title", "Term Grade"),
        category_scope=r.choice("category_scope", CategoryScope, CategoryScope.SCHOOL),
        can_put_categories=r.flag("can_put_categories", True),
        can_put_score_scales=r.flag("can_put_score_scales", True),
        line_item_metadata=r.string_table("line_item_metadata"),
        letter_metadata_key=letter_key,
        notes=r.text("notes", "-") if "notes" in data else "",
    )
    if profile.category_max_chars is not None and len(profile.category_title) > profile.category_max_chars:
        raise r.fail("category_title", f"is longer than category_max_chars ({profile.category_max_chars})")
    return profile


def load_profile_file(text: str, *, file: str) -> VendorProfile:
    """Parse one profile TOML document; `file` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"is not valid TOML ({exc})", file=file) from exc
    profile = parse_profile(data, file=file)
    expected = file.rsplit("/", 1)[-1].removesuffix(".toml")
    if profile.name != expected:
        raise ProfileError(f"name {profile.name!r} does not match the file name", file=file, field="name")
    return profile


def profile_names() -> tuple[str, ...]:
    """Names of the shipped profiles, sorted."""
    folder = resources.files(PROFILE_PACKAGE).joinpath(PROFILE_DIR)
    return tuple(
        sorted(entry.name.removesuffix(".toml") for entry in folder.iterdir() if entry.name.endswith(".toml"))
    )


@cache
def load_profile(name: str) -> VendorProfile:
    """The shipped profile `name` (e.g. "powerschool"); `ProfileError` if there is none or it is invalid."""
    names = profile_names()
    if name not in names:
        raise ProfileError(f"no such profile; known: {', '.join(names)}", file=f"{PROFILE_DIR}/{name}.toml")
    file = f"{PROFILE_DIR}/{name}.toml"
    text = resources.files(PROFILE_PACKAGE).joinpath(file).read_text(encoding="utf-8")
    return load_profile_file(text, file=file)


def customise_profile(
    name: str, overrides: Mapping[str, Any], *, source: str = "connection settings"
) -> VendorProfile:
    """Profile `name` with some fields replaced (e.g. a district's own `letter_metadata_key`).

    The result is validated like a shipped file; an error names `source` and the field.
    """
    if not overrides:
        return load_profile(name)
    if "name" in overrides and overrides["name"] != name:
        raise ProfileError("cannot rename a profile", file=source, field="name")
    load_profile(name)  # the shipped file itself must be valid first
    file = f"{PROFILE_DIR}/{name}.toml"
    data = tomllib.loads(resources.files(PROFILE_PACKAGE).joinpath(file).read_text(encoding="utf-8"))
    unknown = sorted(set(overrides) - _KNOWN_KEYS)
    if unknown:
        raise ProfileError("is not a profile field", file=source, field=unknown[0])
    return parse_profile({**data, **overrides}, file=f"{file} with {source}")
