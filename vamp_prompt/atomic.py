"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

An interrupted run therefore never leaves half a checkpoint, split file, table or marker behind,
and never damages the previous version of the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def atomic_output(path: PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file for writing; on success it replaces ``path`` (mode 0644 - umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: PathLike, data: bytes) -> Path:
    with atomic_output(path, "wb") as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: PathLike, text: str) -> Path:
    with atomic_output(path, "w") as handle:
        handle.write(text)
    return Path(path)


DONE_MARKER = "DONE"


def write_done_marker(output_dir: PathLike, what: str) -> Path:
    """The completion marker the scripts and the results command test for (``<dir>/DONE``)."""
    import time

    return atomic_write_text(
        os.path.join(str(output_dir), DONE_MARKER), f"{what} finished {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    )
