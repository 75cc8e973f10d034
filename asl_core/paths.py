"""Names from data files that become paths: refuse those that could leave their folder.

Video ids, frame names and file names read from annotation files, tool exports or pickles are
joined to dataset and run folders. A name must never reach outside the folder it is joined to
(``../../etc/passwd``, ``/abs``, ``C:\\x``), whatever the file claims (docs/security.md).
"""

from __future__ import annotations

import re

__all__ = ["is_path_like"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def is_path_like(name: object) -> bool:
    """True for a name that could escape the folder it is joined to.

    That is: not a string, empty, with a NUL, absolute (``/x``, ``\\x``, ``C:...``), or with a
    ``.`` or ``..`` component (separated by ``/`` or ``\\``). Ordinary nested ids such as
    ``"Basketball/v_Basketball_g01_c01"`` are fine.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        return True
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return True
    return any(part in ("", ".", "..") for part in re.split(r"[\\/]", name))
