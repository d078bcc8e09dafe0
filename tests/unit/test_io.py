"""Atomic writes: a failed or interrupted write never replaces good data with partial data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepwiser_core.io import atomic_dir, atomic_write_json, atomic_write_text, read_json


def _entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_dir_keeps_old_directory_when_body_raises(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "weights.bin").write_bytes(b"old")

    with pytest.raises(RuntimeError, match="boom"), atomic_dir(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".ckpt.tmp-")
        (tmp / "weights.bin").write_bytes(b"half")
        raise RuntimeError("boom")

    assert (target / "weights.bin").read_bytes() == b"old"
    assert _entries(tmp_path) == ["ckpt"]  # the temporary directory is gone


def test_atomic_dir_replaces_old_directory_on_success(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "ckpt"
    target.mkdir(parents=True)
    (target / "stale.bin").write_bytes(b"old")

    with atomic_dir(target) as tmp:
        (tmp / "weights.bin").write_bytes(b"new")

    assert _entries(target) == ["weights.bin"]
    assert (target / "weights.bin").read_bytes() == b"new"
    assert _entries(target.parent) == ["ckpt"]


def test_atomic_dir_creates_new_directory(tmp_path: Path) -> None:
    with atomic_dir(tmp_path / "data") as tmp:
        (tmp / "part.arrow").write_text("x")
    assert (tmp_path / "data" / "part.arrow").read_text() == "x"


def test_atomic_write_json_round_trip_is_stable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "metrics.json"
    obj = {"b": [1, 2.5, None], "a": {"z": True, "y": "é"}}
    atomic_write_json(path, obj)

    text = path.read_text(encoding="utf-8")
    assert read_json(path) == obj
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')  # sorted keys, trailing newline
    assert text == json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert _entries(path.parent) == ["metrics.json"]  # no temporary file left behind


def test_atomic_write_text_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert _entries(tmp_path) == ["note.txt"]


def test_read_json_names_malformed_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"a": 1,')
    with pytest.raises(ValueError, match="broken.json"):
        read_json(path)
