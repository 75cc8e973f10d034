"""A restricted unpickler for annotation files (ACT ground-truth pickles and the like).

Annotation pickles come from other people's servers, and ``pickle.load`` runs whatever callable a
pickle names. :func:`load` resolves only the few globals that numpy arrays, numpy scalars and plain
builtin containers need; anything else (``os.system``, ``subprocess.Popen``, a user class) raises
:class:`UnsafePickleError` before it is called.

Every load passes ``encoding="latin1"``: the reference pickles (ACT's ``*-GT.pkl``) were written by
Python 2, whose ``str`` holds the raw bytes of numpy buffers, and latin-1 maps those bytes one to
one.

Example::

    from asl_action_det.safe_pickle import load

    gt = load("JHMDB-GT.pkl")
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from asl_core import AslError

__all__ = ["UnsafePickleError", "load", "loads"]


class UnsafePickleError(AslError):
    """A pickle names a global outside the allow-list, or is not a readable pickle at all."""


def _latin1_encode(obj: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Protocol-2 pickles of ``bytes`` written by Python 3 go through ``_codecs.encode(text,
    # "latin1")``. Only text codecs are let through: other codecs (zlib, base64...) are a
    # needless attack surface.
    if codecs.lookup(encoding).name not in {"latin-1", "iso8859-1", "utf-8", "ascii"}:
        raise pickle.UnpicklingError(f"codec {encoding!r} is not allowed")
    return codecs.encode(obj, encoding, errors)


def _numpy_globals() -> dict[str, Any]:
    # Resolve the reconstructors from live objects rather than by module path: numpy 2 renamed
    # ``numpy.core`` to ``numpy._core`` and warns on the old path, while old pickles still name it.
    reconstruct = np.zeros(0).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    return {"_reconstruct": reconstruct, "scalar": scalar, "_frombuffer": frombuffer}


_BUILTINS = frozenset(
    {
        "list",
        "dict",
        "tuple",
        "set",
        "frozenset",
        "int",
        "float",
        "str",
        "bytes",
        "bytearray",
        "complex",
        "bool",
        "slice",
    }
)
_NUMPY_MODULES = {
    "numpy.core.multiarray": ("_reconstruct", "scalar"),
    "numpy._core.multiarray": ("_reconstruct", "scalar"),
    "numpy.core.numeric": ("_frombuffer",),
    "numpy._core.numeric": ("_frombuffer",),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` only resolves numpy array/scalar helpers and builtins."""

    def __init__(self, file: Any, source: str) -> None:
        super().__init__(file, encoding="latin1", fix_imports=True)
        self._source = source
        self._numpy = _numpy_globals()

    def find_class(self, module: str, name: str) -> Any:
        # Python-2 module names arrive here before fix_imports maps them.
        if module in {"builtins", "__builtin__"} and name in _BUILTINS:
            return getattr(__import__("builtins"), name)
        if module in {"_codecs", "codecs"} and name == "encode":
            return _latin1_encode
        if module in {"collections"} and name == "OrderedDict":
            return collections.OrderedDict
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        if name in _NUMPY_MODULES.get(module, ()):
            return self._numpy[name]
        raise UnsafePickleError(f"refusing to load {module}.{name} from {self._source}")


def loads(data: bytes, *, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the restricted allow-list (numpy arrays/scalars and builtins).

    Args:
        data: the pickle's bytes (any protocol 0-5, Python 2 or 3).
        source: what to call the data in error messages (a file name).

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: when the pickle names a global outside the allow-list (nothing it names
            is ever called) or cannot be parsed.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or garbled data raises many types (EOFError, KeyError...)
        raise UnsafePickleError(
            f"cannot read pickle {source}: {type(exc).__name__}: {exc}"
        ) from exc


def load(path: str | Path) -> Any:
    """Read the pickle file at ``path`` with the restricted allow-list.

    Use this, never ``pickle.load``, on any file a user hands over.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (numpy arrays, numpy scalars and builtin containers only).

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        UnsafePickleError: when the pickle names a disallowed global or is corrupt; the message
            names the file.
    """
    path = Path(path)
    return loads(path.read_bytes(), source=str(path))
