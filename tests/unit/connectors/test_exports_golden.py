"""Every export rendered from the fixed dataset matches its golden file byte for byte, and twice over."""

from __future__ import annotations

import hashlib

import pytest

from connectors.exports import EXPORT_KINDS, MANIFEST_NAME, render_export
from tests.unit.connectors.exports_data import build_dataset, check_golden

# (kind, period): the final for every kind, and a quarter for the per-period exports.
CASES = [(kind, "Y1") for kind in EXPORT_KINDS] + [
    ("powerschool-storedgrades", "Q1"),
    ("report-card-pdf", "Q2"),
    ("grades-csv", "Q2"),
]


@pytest.mark.parametrize(("kind", "period"), CASES)
def test_export_matches_its_golden_files(kind: str, period: str) -> None:
    result = render_export(kind, build_dataset(period))

    for name, data in result.with_manifest().items():
        check_golden(f"{kind}-{period}", name, data)


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_same_data_gives_the_same_bytes(kind: str) -> None:
    first = render_export(kind, build_dataset()).with_manifest()
    second = render_export(kind, build_dataset()).with_manifest()

    assert first == second


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_manifest_lists_every_file_with_its_sha256(kind: str) -> None:
    result = render_export(kind, build_dataset())

    lines = result.manifest.decode("utf-8").splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == sorted(result.files)
    for line in lines:
        digest, name = line.split("  ", 1)
        assert digest == hashlib.sha256(result.files[name]).hexdigest()
    assert MANIFEST_NAME not in result.files
