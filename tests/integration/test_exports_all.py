"""`mastery-bridge export all`: every kind from one read, rendered in several processes, same bytes as one by one."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from lti_tool.exports import EXPORT_KINDS, RENDER_WEIGHT
from lti_tool.exports import _lanes as lanes
from tests.integration import test_exports_cli
from tests.integration.test_exports_cli import Invoke

# The posted demo district and the CLI runner (assigned, so pytest finds the fixtures here).
posted_url = test_exports_cli.posted_url
run = test_exports_cli.run


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


@pytest.mark.forks
def test_all_in_two_processes_writes_what_each_kind_writes_alone(run: Invoke, tmp_path: Path) -> None:
    result = run(
        "export", "all", "--school", "RHS", "--period", "Q1", "--out", str(tmp_path / "all"), "--jobs", "2"
    )
    assert result.exit_code == 0, result.output
    assert "in 2 processes" in result.stderr
    together = _tree(tmp_path / "all")
    alone: dict[str, bytes] = {}
    for kind in EXPORT_KINDS:
        assert (
            run("export", kind, "--school", "RHS", "--period", "Q1", "--out", str(tmp_path / kind)).exit_code
            == 0
        )
        alone.update({f"{kind}/{name}": data for name, data in _tree(tmp_path / kind).items()})
    assert together == alone
    for kind in EXPORT_KINDS:
        for line in together[f"{kind}/MANIFEST.sha256"].decode().splitlines():
            digest, name = line.split(maxsplit=1)
            assert hashlib.sha256(together[f"{kind}/{name.strip()}"]).hexdigest() == digest


def test_all_to_a_zip_holds_a_folder_per_kind(run: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "exports.zip"
    assert (
        run("export", "all", "--school", "RHS", "--period", "Q1", "--out", str(out), "--jobs", "1").exit_code
        == 0
    )
    with zipfile.ZipFile(out) as archive:
        folders = {name.split("/", 1)[0] for name in archive.namelist() if "/" in name}
    assert folders == set(EXPORT_KINDS)


@pytest.mark.parametrize("out", ["", "exports.csv"])
def test_all_needs_a_folder_or_a_zip(run: Invoke, tmp_path: Path, out: str) -> None:
    args = ["export", "all", "--school", "RHS", "--period", "Q1"] + (
        ["--out", str(tmp_path / out)] if out else []
    )
    result = run(*args)
    assert result.exit_code == 2
    assert "give --out DIR or --out FILE.zip" in result.output


def test_lanes_put_the_heaviest_kinds_apart() -> None:
    split = lanes(EXPORT_KINDS, 2)
    assert len(split) == 2
    assert sorted(kind for lane in split for kind in lane) == sorted(EXPORT_KINDS)
    loads = [sum(RENDER_WEIGHT[kind] for kind in lane) for lane in split]
    assert max(loads) <= sum(loads) / 2 + max(RENDER_WEIGHT.values())
    assert lanes(EXPORT_KINDS, 1) == [sorted(EXPORT_KINDS, key=lambda k: -RENDER_WEIGHT[k])]
