"""Reading untrusted Keras files: zip members, JSON and HDF5 objects, each checked before use.

The rules (docs/keras_files.md): nothing from a file is executed or unpickled; zip member names may
not escape (absolute, `..`, drive letters, NUL) nor repeat; a member is read only up to its declared
size, which must be under a limit, with a plausible compression ratio; JSON has a size and a nesting
limit; HDF5 objects are reached only through hard links, datasets must be plain numeric arrays (no
object, string, compound or reference dtypes), neither external nor virtual, of exactly the shape the
layer expects, and not a compression bomb. Every problem is a `LoadError` saying what is wrong.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import sys
import zipfile
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from kir.errors import LoadError, MissingDependencyError

MAX_JSON_BYTES = 64 * 1024 * 1024
"""Default cap on a model description (`model.json`, `config.json`, `model_config`); a trusted larger
file loads with the environment variable KIR_MAX_JSON_BYTES=<bytes> set."""
MAX_JSON_DEPTH = 256
"""Default cap on a Keras config's JSON nesting (KIR_MAX_JSON_DEPTH=<levels> raises it)."""
MAX_KIR_JSON_DEPTH = 2048
"""Default cap on a `.kir` model.json's nesting: 4 levels per nested model, so about 500 nested models."""
JSON_BYTES_ENV = "KIR_MAX_JSON_BYTES"
JSON_DEPTH_ENV = "KIR_MAX_JSON_DEPTH"
MAX_METADATA_BYTES = 1024 * 1024
MAX_WEIGHTS_BYTES = 64 * 1024 ** 3
MAX_MEMBERS = 10_000
MAX_RATIO = 200
"""A deflated member may expand at most this much (a zip bomb expands millions of times)."""
MAX_ATTR_ITEMS = 1_000_000
_CHUNK = 1 << 20
_JSON_FRAMES = 2
"""Python frames between `_recursion_room` and json's C parser (json.loads, decode), measured on CPython 3.11."""


def h5py_module() -> Any:
    """h5py, or a MissingDependencyError naming the package to install."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a core dependency
        raise MissingDependencyError("reading and writing Keras files needs h5py: pip install 'h5py>=3.8'") from None
    return h5py


# --------------------------------------------------------------------------- zip archives
def check_member_names(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The archive's members after refusing escaping or repeated names and too many members."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise LoadError(f"the archive has {len(infos)} members (at most {MAX_MEMBERS} are read)")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\x00" in name:
            raise LoadError(f"archive member '{name}' has an absolute or escaping path; refusing the file")
        if name in seen:
            raise LoadError(f"archive member '{name}' appears twice; refusing the file")
        seen.add(name)
    return infos


def checked_info(zf: zipfile.ZipFile, name: str, limit: int) -> zipfile.ZipInfo:
    """Member `name`'s info after refusing a declared size over `limit` or an implausible ratio."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise LoadError(f"archive member '{name}' declares {info.file_size} bytes, over the limit of {limit}")
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > _CHUNK \
            and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise LoadError(f"archive member '{name}' would expand {info.file_size // max(info.compress_size, 1)}"
                        f" times; refusing a possible zip bomb")
    return info


def read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """The bytes of member `name`, never more than its declared size (itself at most `limit`)."""
    info = checked_info(zf, name, limit)
    with zf.open(info) as f:
        data = f.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise LoadError(f"archive member '{name}' holds {len(data)} bytes but declares {info.file_size}")
    return data


def copy_member(zf: zipfile.ZipFile, name: str, limit: int, target: IO[bytes]) -> None:
    """Copy member `name` into the open binary file `target`, checked like `read_member`."""
    info = checked_info(zf, name, limit)
    copied = 0
    with zf.open(info) as f:
        while chunk := f.read(_CHUNK):
            copied += len(chunk)
            if copied > info.file_size:
                break
            target.write(chunk)
    if copied != info.file_size:
        raise LoadError(f"archive member '{name}' holds more or fewer bytes than the {info.file_size} it declares")
    target.flush()
    target.seek(0)


# --------------------------------------------------------------------------- JSON
def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise LoadError(f"environment variable {name}={value!r} is not a whole number") from None
    if number <= 0:
        raise LoadError(f"environment variable {name}={value!r} must be positive")
    return number


def json_bytes_limit() -> int:
    """The size cap on a model description (MAX_JSON_BYTES, or KIR_MAX_JSON_BYTES when set)."""
    return _env_int(JSON_BYTES_ENV, MAX_JSON_BYTES)


def json_depth_limit(default: int = MAX_JSON_DEPTH) -> int:
    """The nesting cap on a model description (`default`, or KIR_MAX_JSON_DEPTH when set)."""
    return _env_int(JSON_DEPTH_ENV, default)


def parse_json(data: bytes | str, what: str, limit: int | None = None, max_depth: int | None = None) -> Any:
    """Parsed JSON after checking its size and nesting depth (deep nesting is refused, not recursed)."""
    limit = json_bytes_limit() if limit is None else limit
    max_depth = json_depth_limit() if max_depth is None else max_depth
    if len(data) > limit:
        raise LoadError(f"{what} is {len(data)} bytes, over the limit of {limit} (raise it with "
                        f"{JSON_BYTES_ENV}=<bytes> if the file is trusted)")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise LoadError(f"{what} is not valid JSON: not UTF-8 text ({exc})") from None
    deep = LoadError(f"{what} nests deeper than {max_depth} levels; refusing it (raise the limit with "
                     f"{JSON_DEPTH_ENV}=<levels> if the file is trusted)")
    try:
        with _recursion_room(max_depth) as exact:
            value = json.loads(text)
    except RecursionError:
        raise deep from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise LoadError(f"{what} is not valid JSON ({exc})") from None
    if not exact and _deeper_than(value, max_depth):
        raise deep
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether parsed JSON nests lists/objects deeper than `limit` (iterative: no recursion)."""
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if type(item) is dict else item:
            if type(child) in (dict, list):
                stack.append((child, depth + 1))
    return False


def _stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


@contextlib.contextmanager
def _recursion_room(depth: int) -> Iterator[bool]:
    """Python's recursion limit raised (never lowered: other threads share it) so that the json
    module, which recurses once per level in C counted against that limit, parses `depth` levels
    and raises RecursionError soon beyond: a hostile nesting never costs more than the cap."""
    old = sys.getrecursionlimit()
    wanted = _stack_depth() + depth + _JSON_FRAMES
    sys.setrecursionlimit(max(old, wanted))
    try:
        yield wanted >= old  # exact: json itself refuses the first level too many
    finally:
        sys.setrecursionlimit(old)


# --------------------------------------------------------------------------- HDF5
def child(group: Any, name: str, kind: str, where: str) -> Any:
    """`group[name]` reached through a hard link and of `kind` ('group' or 'dataset'), else a LoadError."""
    h5py = h5py_module()
    if not name or name in (".", "..") or "/" in name:
        raise LoadError(f"bad HDF5 object name {name!r:.80} in {where}")
    link = group.get(name, default=None, getlink=True)
    if link is None:
        raise LoadError(f"{where} has no {kind} '{name}'")
    if not isinstance(link, h5py.HardLink):
        raise LoadError(f"'{name}' in {where} is a {type(link).__name__}; only plain HDF5 objects are read")
    obj = group[name]
    expected = h5py.Group if kind == "group" else h5py.Dataset
    if not isinstance(obj, expected):
        raise LoadError(f"'{name}' in {where} is not an HDF5 {kind}")
    return obj


def has_child(group: Any, name: str) -> bool:
    return bool(name) and group.get(name, default=None, getlink=True) is not None


def walk_path(root: Any, path: str, where: str) -> Any:
    """The group at `a/b/c` below `root`, each step checked by `child`."""
    group = root
    for part in [p for p in path.split("/") if p]:
        group = child(group, part, "group", where)
    return group


def read_dataset(dataset: Any, expected: np.ndarray, what: str) -> np.ndarray:
    """The dataset's values, after checking them against the array the layer holds (`expected`)."""
    h5py = h5py_module()
    dtype = dataset.dtype
    if (dtype.kind != expected.dtype.kind or dtype.fields is not None or dtype.subdtype is not None
            or h5py.check_dtype(vlen=dtype) is not None or h5py.check_dtype(ref=dtype) is not None
            or dtype.itemsize > 8):
        raise LoadError(f"{what} has dtype {dtype}; the layer needs {expected.dtype} values (object, string, "
                        f"compound and reference data are never read)")
    if tuple(dataset.shape or ()) != tuple(expected.shape):
        raise LoadError(f"{what} has shape {tuple(dataset.shape or ())}, the layer needs {tuple(expected.shape)}")
    if dataset.external:
        raise LoadError(f"{what} points to external files; refusing it")
    if dataset.is_virtual:
        raise LoadError(f"{what} is a virtual dataset; refusing it")
    declared = math.prod(expected.shape) * dtype.itemsize
    stored = dataset.id.get_storage_size()
    if declared > _CHUNK and declared > MAX_RATIO * max(stored, 1):
        raise LoadError(f"{what} would expand from {stored} to {declared} bytes; refusing a possible bomb")
    try:
        values = np.asarray(dataset[()])
    except (OSError, ValueError, TypeError) as exc:
        raise LoadError(f"{what} cannot be read ({exc})") from None
    return values.astype(expected.dtype, copy=False)


def declared_weight_bytes(group: Any) -> int:
    """The bytes of weights the datasets below `group` may give (each at most what `read_dataset`
    would accept from its stored size): the budget for building the model the file describes."""
    h5py = h5py_module()
    total = 0

    def visit(name: str, obj: Any) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.shape is not None:
            declared = math.prod(obj.shape) * obj.dtype.itemsize
            total += min(declared, max(MAX_RATIO * obj.id.get_storage_size(), _CHUNK))

    group.visititems(visit)
    return total


def check_regular_file(path: str) -> None:
    """Refuse anything but a regular file before opening it (a named pipe would block forever)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise LoadError(f"cannot load '{path}': no such file") from None
    except OSError as exc:
        raise LoadError(f"cannot load '{path}': {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise LoadError(f"cannot load '{path}': it is not a regular file (a pipe, device, socket or folder); kir "
                        f"reads only regular files")


def _attr(obj: Any, name: str, where: str) -> Any:
    try:
        attr_id = obj.attrs.get_id(name)
    except KeyError:
        raise LoadError(f"{where} has no attribute '{name}'") from None
    h5py = h5py_module()
    dtype = attr_id.dtype
    is_text = h5py.check_dtype(vlen=dtype) in (str, bytes) or dtype.kind in "SU"
    if not is_text and not (dtype.kind == "f" and attr_id.shape == (0,)):
        raise LoadError(f"attribute '{name}' of {where} is not text (dtype {dtype})")
    if attr_id.shape and math.prod(attr_id.shape) > MAX_ATTR_ITEMS:
        raise LoadError(f"attribute '{name}' of {where} has too many items")
    return obj.attrs[name]


def text_attr(obj: Any, name: str, where: str) -> str:
    """A string attribute (e.g. `model_config`)."""
    value = _attr(obj, name, where)
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        raise LoadError(f"attribute '{name}' of {where} is not a string")
    return value


def text_list_attr(obj: Any, name: str, where: str) -> list[str]:
    """A list-of-strings attribute (`layer_names`, `weight_names`); Keras writes an empty float array for [],
    and a list over 64 KB in chunks `<name>0`, `<name>1`, ..."""
    if name not in obj.attrs and f"{name}0" in obj.attrs:
        chunks, k = [], 0
        while f"{name}{k}" in obj.attrs and k <= MAX_ATTR_ITEMS:
            chunks.extend(text_list_attr(obj, f"{name}{k}", where))
            k += 1
            if len(chunks) > MAX_ATTR_ITEMS:
                raise LoadError(f"attribute '{name}' of {where} has too many items")
        return chunks
    value = _attr(obj, name, where)
    items = np.asarray(value).reshape(-1).tolist()
    out = []
    for item in items:
        if isinstance(item, bytes):
            item = item.decode("utf-8", errors="replace")
        if not isinstance(item, str):
            raise LoadError(f"attribute '{name}' of {where} holds a non-string item")
        out.append(item)
    return out


def optional_text_attr(obj: Any, name: str) -> str | None:
    if name not in obj.attrs:
        return None
    try:
        return text_attr(obj, name, "the file")
    except LoadError:
        return None
