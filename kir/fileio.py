"""Publishing files atomically: one helper for every writer (`save`, `export`, Keras files, checkpoints).

Why: a reader must see the old file or the new one, never a mix or a partial file, and a writer that
dies must leave nothing behind for long. Each write stages its bytes under a short temporary name
`.kir-tmp-<pid>-<random>` beside the target (short, so a 255-character target name still works),
then renames it over the target. The temporary name is removed when the write fails, is interrupted
(Ctrl-C) or is terminated (SIGTERM/SIGHUP while a write is in progress, in the main thread); after a
SIGKILL it is removed by the next write into that folder, since its process no longer exists.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from kir.errors import ExportError

TEMP_PREFIX = ".kir-tmp-"
TEMP_PATTERN = re.compile(r"\.kir-tmp-(\d+)-[0-9a-f]{8}$")
"""Names of staged files and folders (what `clean_stale` removes once their process is gone)."""
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))

_lock = threading.RLock()
_active: set[str] = set()
_previous: dict[int, Any] = {}


def temp_name() -> str:
    """A fresh temporary name for this process (about 25 characters, whatever the target's length)."""
    return f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(path)


def clean_stale(folder: str) -> list[str]:
    """Remove the temporary files and folders in `folder` left by writers that no longer run
    (killed with SIGKILL, or a crashed machine); returns what was removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    with _lock:
        for entry in entries:
            match = TEMP_PATTERN.match(entry.name)
            if match is None or entry.path in _active:
                continue
            pid = int(match.group(1))
            if pid == os.getpid() or not _alive(pid):  # ours but not active: left by an earlier life of this pid
                _remove(entry.path)
                removed.append(entry.path)
    return removed


# --------------------------------------------------------------------------- termination cleanup
def _on_signal(signum: int, frame: Any) -> None:
    """SIGTERM/SIGHUP during a write: remove the staged files, then die as the default action would."""
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)  # the program's own handler decides; our `finally` blocks clean up if it raises
        return
    with _lock:
        for path in list(_active):
            _remove(path)
        _active.clear()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        if signum in _previous:
            continue
        current = signal.getsignal(signum)
        if current in (signal.SIG_IGN, None):
            continue
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signum, _on_signal)
            _previous[signum] = current


def _uninstall() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, previous in list(_previous.items()):
        with contextlib.suppress(ValueError, OSError, TypeError):
            if signal.getsignal(signum) is _on_signal:
                signal.signal(signum, previous)
        del _previous[signum]


@contextlib.contextmanager
def staging(folder: str, fail: Callable[[str], ExportError], directory: bool = False) -> Iterator[str]:
    """A new empty temporary file (or folder) in `folder`, removed on exit unless it was renamed
    away. `fail(reason)` makes the error raised when it cannot be created (e.g. a read-only folder)."""
    path = os.path.join(folder, temp_name())
    with _lock:
        _active.add(path)
        _install()  # idempotent; only the main thread can install signal handlers
    try:
        try:
            if directory:
                os.mkdir(path, 0o700)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise fail(f"cannot create a temporary file in '{folder}' ({exc.strerror or exc})") from None
        yield path
    finally:
        _remove(path)
        with _lock:
            _active.discard(path)
            if not _active:
                _uninstall()


_UMASK: list[int] = []


def _umask() -> int:
    """The process umask, read once (reading it means setting it, which would race other threads)."""
    with _lock:
        if not _UMASK:
            mask = os.umask(0o22)
            os.umask(mask)
            _UMASK.append(mask)
    return _UMASK[0]


def publish(staged: str, target: str) -> None:
    """Flush `staged` to disk, give it the usual file mode and rename it over `target` (atomic on one
    file system): after a crash the target is the old file or the whole new one, never a torn one."""
    descriptor = os.open(staged, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.chmod(staged, 0o666 & ~_umask())
    os.replace(staged, target)


def check_target(path: str, what: str, overwrite: bool = True) -> str:
    """The folder `path` will be written in, after refusing a folder as target, an existing file
    with overwrite=False and a missing folder (each an ExportError naming the path)."""
    if os.path.isdir(path):
        raise ExportError(f"cannot save {what} to '{path}': it is a directory; give a file name")
    if not overwrite and os.path.lexists(path):
        raise ExportError(f"cannot save {what}: '{path}' already exists and overwrite=False")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot save {what} to '{path}': folder '{folder}' does not exist")
    return folder


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, what: str, overwrite: bool = True) -> Iterator[IO[bytes]]:
    """A binary file that replaces `path` only when the block completes; any OSError (full disk,
    read-only folder) is an ExportError naming `path`, and the old file stays as it was."""
    path = os.fspath(path)
    folder = check_target(path, what, overwrite)
    clean_stale(folder)

    def fail(reason: str) -> ExportError:
        return ExportError(f"cannot save {what} to '{path}': {reason}")

    try:
        with staging(folder, fail) as tmp:
            with open(tmp, "w+b") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            publish(tmp, path)
    except OSError as exc:
        raise fail(exc.strerror or str(exc)) from exc
