"""Vendor profiles: every shipped TOML loads and validates, cites sources, and bad files name file and field."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from connectors.oneroster import OneRosterVersion, SignatureMethod
from connectors.oneroster.profiles import (
    AuthKind,
    CategoryScope,
    LetterVia,
    ProfileError,
    customise_profile,
    load_profile,
    load_profile_file,
    parse_profile,
    profile_names,
)

SHIPPED = (
    "aeries",
    "classlink",
    "generic-1.1",
    "generic-1.2",
    "infinite-campus",
    "powerschool",
    "skyward",
    "synergy",
)
MINIMAL = """
name = "tiny"
display_name = "Tiny SIS"
versions = ["1.2"]
auth = "oauth2"
max_page_size = 500
letter_via = "text_score"

[[sources]]
title = "Tiny docs"
url = "https://tiny.example/docs"
"""


def test_every_shipped_profile_is_listed() -> None:
    assert profile_names() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_profile_loads_validates_and_cites_sources(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.sources
    assert all(s.url.startswith("https://") for s in profile.sources)
    assert profile.default_version in profile.versions
    assert 1 <= profile.max_page_size <= 10_000
    assert profile.category_title == "Term Grade"
    assert profile.clip_category(profile.category_title) == profile.category_title
    for version in profile.versions:
        prefix = "v1p1" if version is OneRosterVersion.V1P1 else "v1p2"
        assert all(f"/spec/or/{prefix}/scope/" in s for s in profile.scopes(version, gradebook=True))
    if profile.auth is AuthKind.OAUTH1:
        assert profile.oauth1_signature is not None
    if profile.letter_via is LetterVia.METADATA:
        assert profile.letter_metadata_key


def test_vendor_facts_from_the_sources() -> None:
    powerschool = load_profile("powerschool")
    assert (powerschool.title_max_chars, powerschool.category_max_chars) == (50, 30)
    assert powerschool.category_scope is CategoryScope.TEACHER
    assert dict(powerschool.line_item_metadata) == {"scoreType": "GRADESCALE"}
    assert powerschool.max_page_size == 1000
    campus = load_profile("infinite-campus")
    assert campus.has_grading_window
    assert campus.grading_window_markers
    aeries = load_profile("aeries")
    assert aeries.versions == (OneRosterVersion.V1P1,)
    assert aeries.auth is AuthKind.OAUTH2
    assert aeries.needs_token_cookies
    assert load_profile("generic-1.1").oauth1_signature is SignatureMethod.HMAC_SHA256


def test_clipping_prefers_word_boundaries() -> None:
    powerschool = load_profile("powerschool")
    title = "Honors Precalculus (3) - Quarter 1 - Period grade for the whole term"
    clipped = powerschool.clip_title(title)
    assert len(clipped) <= 50
    assert title.startswith(clipped)
    assert not clipped.endswith(" ")
    assert powerschool.clip_category("Averyveryveryverylongcategorynamewithoutspaces") == (
        "Averyveryveryverylongcategoryn"
    )
    assert powerschool.clip_title("  Short   title ") == "Short title"
    assert load_profile("generic-1.2").clip_title(title) == title


def test_scopes_follow_the_version_or_a_vendor_prefix() -> None:
    campus = load_profile("infinite-campus")
    assert campus.scopes(OneRosterVersion.V1P1) == (
        "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly",
    )
    assert (
        campus.scope("gradebook.createput")
        == "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.createput"
    )
    prefixed = parse_profile({**_minimal(), "scope_prefix": "urn:vendor:"}, file="tiny.toml")
    assert prefixed.scopes(gradebook=True, demographics=True) == (
        "urn:vendor:roster-core.readonly",
        "urn:vendor:roster-demographics.readonly",
        "urn:vendor:gradebook.createput",
        "urn:vendor:gradebook.readonly",
    )
    assert prefixed.scope("https://full.example/scope") == "https://full.example/scope"


def _minimal() -> dict[str, Any]:
    return tomllib.loads(MINIMAL)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"max_page_size": 0}, "max_page_size", "from 1 to 10000"),
        ({"max_page_size": "100"}, "max_page_size", "whole number"),
        ({"versions": ["1.3"]}, "versions", "1.1 and 1.2"),
        ({"versions": []}, "versions", "at least one"),
        ({"default_version": "1.1"}, "default_version", "not in versions"),
        ({"letter_via": "carrier pigeon"}, "letter_via", "text_score, comment, metadata"),
        ({"letter_via": "metadata"}, "letter_metadata_key", "required"),
        ({"versions": ["1.1"], "default_version": "1.1"}, "letter_via", "needs OneRoster 1.2"),
        ({"auth": "oauth1"}, "oauth1_signature", "required"),
        ({"has_grading_window": True}, "grading_window_markers", "closed"),
        ({"has_grading_window": "yes"}, "has_grading_window", "true or false"),
        ({"sources": []}, "sources", "at least one"),
        ({"sources": [{"title": "x", "url": "ftp://x"}]}, "sources[0].url", "http(s)"),
        ({"line_item_metadata": {"scoreType": 3}}, "line_item_metadata", "string values"),
        ({"category_max_chars": 8}, "category_title", "longer than"),
        ({"colour": "blue"}, "colour", "not a profile field"),
        ({"display_name": ""}, "display_name", "non-empty"),
    ],
)
def test_bad_profiles_name_file_and_field(change: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({**_minimal(), **change}, file="profiles/tiny.toml")
    assert caught.value.file == "profiles/tiny.toml"
    assert caught.value.field == field
    assert "profiles/tiny.toml" in str(caught.value)
    assert field in str(caught.value)
    assert message in str(caught.value)


def test_missing_field_and_bad_toml_are_named() -> None:
    data = _minimal()
    del data["auth"]
    with pytest.raises(ProfileError, match=r"tiny\.toml, field 'auth': is missing"):
        parse_profile(data, file="tiny.toml")
    with pytest.raises(ProfileError, match="not valid TOML") as caught:
        load_profile_file("name = ", file="profiles/broken.toml")
    assert caught.value.file == "profiles/broken.toml"
    with pytest.raises(ProfileError, match="does not match the file name"):
        load_profile_file(MINIMAL, file="profiles/other.toml")
    assert load_profile_file(MINIMAL, file="profiles/tiny.toml").display_name == "Tiny SIS"


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ProfileError, match="known: aeries, classlink"):
        load_profile("blackboard")


def test_a_district_can_override_profile_fields() -> None:
    custom = customise_profile("powerschool", {"letter_metadata_key": "letterGrade", "max_page_size": 500})
    assert custom.letter_metadata_key == "letterGrade"
    assert custom.max_page_size == 500
    assert customise_profile("powerschool", {}) is load_profile("powerschool")
    with pytest.raises(ProfileError) as caught:
        customise_profile("powerschool", {"title_max_chars": 3})
    assert caught.value.field == "title_max_chars"
    assert "connection settings" in str(caught.value)
    with pytest.raises(ProfileError, match="not a profile field"):
        customise_profile("powerschool", {"nonsense": 1})
    with pytest.raises(ProfileError, match="rename"):
        customise_profile("powerschool", {"name": "other"})
