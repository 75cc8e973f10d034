"""Reading and writing object-id masks as palette PNGs (the YouTube-VOS / DAVIS mask format).

A mask file holds one object id per pixel (0 = background, 1..255 = objects; DAVIS uses 255 for
"void"). YouTube-VOS and DAVIS store them as palette ("P" mode) PNGs whose pixel values are the
ids and whose palette only colours them. :func:`read_mask` also accepts 8-bit greyscale ("L")
files, whose values are read as ids too, and refuses colour images with a clear message: their
colours would have to be mapped back to ids through a palette they do not carry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import VosDataError

__all__ = ["default_palette", "read_image", "read_mask", "write_mask"]


def default_palette() -> list[int]:
    """The 256-colour palette of PASCAL VOC / DAVIS / YouTube-VOS masks, flat ``[r, g, b, ...]``.

    Colour ``i`` spreads the bits of ``i`` over the three channels, most significant first
    (id 1 = dark red, 2 = dark green, 3 = olive, ...), so consecutive ids stay distinguishable.
    """
    palette: list[int] = []
    for i in range(256):
        r = g = b = 0
        c = i
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.extend((r, g, b))
    return palette


def read_mask(path: Path) -> np.ndarray:
    """The object ids of a mask file, ``uint8[H, W]``.

    Raises:
        VosDataError: the file is missing or unreadable, or is not a palette or greyscale image
            (the message names the file and its mode).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            mode = img.mode
            if mode in ("P", "L"):
                return np.asarray(img, dtype=np.uint8).copy()
            if mode in ("1", "I", "I;16", "I;16B", "I;16L"):
                ids = np.asarray(img)
            else:
                raise VosDataError(
                    f"{path}: a {mode} image is not an object-id mask; masks are palette (P) "
                    "PNGs whose pixel values are the object ids (0 = background), or 8-bit "
                    "greyscale (L) files of ids"
                )
    except FileNotFoundError:
        raise VosDataError(f"{path}: mask file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise VosDataError(f"{path}: unreadable mask image ({exc})") from None
    ids = ids.astype(np.int64)
    if ids.min(initial=0) < 0 or ids.max(initial=0) > 255:
        raise VosDataError(f"{path}: mask ids must lie in 0..255, found {ids.min()}..{ids.max()}")
    return ids.astype(np.uint8)


def read_image(path: Path) -> np.ndarray:
    """An RGB frame, ``uint8[H, W, 3]`` (greyscale and palette files are converted).

    Raises:
        VosDataError: the file is missing or unreadable (the message names it).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except FileNotFoundError:
        raise VosDataError(f"{path}: frame image not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise VosDataError(f"{path}: unreadable frame image ({exc})") from None


def write_mask(path: Path, ids: np.ndarray, palette: list[int] | None = None) -> None:
    """Write ``uint8[H, W]`` object ids as a palette PNG (``palette``: flat RGB list, default
    :func:`default_palette`). The folder must exist; the write is not atomic."""
    from PIL import Image

    arr = np.asarray(ids)
    if arr.ndim != 2:
        raise ValueError(f"{path}: a mask is a 2-D array of ids, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{path}: mask ids must lie in 0..255")
        arr = arr.astype(np.uint8)
    # frombytes, not fromarray: fromarray's mode argument is deprecated in Pillow 11+
    img = Image.frombytes("P", (arr.shape[1], arr.shape[0]), np.ascontiguousarray(arr).tobytes())
    img.putpalette(palette if palette is not None else default_palette())
    img.save(path, format="PNG")
