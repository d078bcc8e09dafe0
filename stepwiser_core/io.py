"""Atomic writes for run artifacts.

Stages are resumable: a later run trusts whatever files an earlier run left behind. A write that is interrupted
(Ctrl-C, OOM kill, full disk) must therefore never leave a half-written file or directory under its final name.
Every writer here builds the content under a temporary name in the same directory (so the final rename stays on
one filesystem and is atomic) and only then moves it into place.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# mkstemp/mkdtemp create private (0600/0700) entries; artifacts should get the permissions a plain open() would
# give. Reading the umask means setting it, so do it once, at import, before any threads exist.
_UMASK = os.umask(0)
os.umask(_UMASK)


def _fsync_dir(directory: Path) -> None:
    """Persist a rename: the new directory entry is only durable once the directory itself is synced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o666 & ~_UMASK)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Atomically write UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Atomically write `obj` as stable, diff-friendly JSON (indent 2, sorted keys, trailing newline)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a malformed file raises `ValueError` naming it (json's own error does not)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"malformed JSON in {path}: {exc}") from exc


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory (a checkpoint, a `save_to_disk` dataset) and publish it at `path` only if complete.

    Yields a fresh temporary directory `.<name>.tmp-<random>` next to `path`. On normal exit it replaces `path`;
    if the body raises, the temporary directory is deleted and an existing `path` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # A directory cannot be os.replace'd over a non-empty one, so the old one must go first. Renaming it aside
    # (instead of deleting it in place) keeps the window in which `path` is missing to two renames, and a crash
    # during the slow delete can never leave a half-deleted directory under the final name.
    old = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
    had_old = path.exists() or path.is_symlink()
    if had_old:
        os.replace(path, old)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if had_old:
        _remove(old)
