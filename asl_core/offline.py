"""``asl-run select``: one selection from files, with no model ("bring your own uncertainties").

Users with their own detector compute a per-frame statistic (U of eq. 1, an entropy...) or the
Monte-Carlo dropout probabilities themselves; this module turns those files into the frames to
annotate next, with any registered scorer and selector. The steps are the loop's
(``ActiveLearningLoop._select``): per-frame statistics for every video, ``prepare_pool`` over the
whole pool, then one ``select`` call with the budget.

Inputs (exact formats in ``docs/cli.md``):

* **labels** (JSON): ``{"videos": {"<video id>": {"num_frames": F, "labelled": [i, ...]}}}``,
  0-based frame indices. It defines the pool: every video of the selection, with its length.
  The pool order (the selectors' tie-break order) is the video ids **sorted** by code point,
  whatever the order in the files. Optionally ``"actors": [n_0, ..., n_{F-1}]`` per video (all
  videos or none): the actors on each frame, written by ``asl-run data labels`` from annotation
  files; with them the selection is priced (:mod:`asl_core.cost`, paper §4) and the output
  becomes ``{"cost": {...}, "frames": [...]}`` (:func:`result_json`).
* **statistics**, one of:

  - ``--stats FILE.npz``: one 1-D real array of length ``F`` per video, keyed by the video id
    (``numpy.savez(path, **{video_id: values})``; ids may contain ``/``). It is stored in
    ``FrameStats`` under the scorer's ``frame_stat_key`` (``u`` for ``apu`` and ``gal``, ``h``
    for ``aghdam``) instead of running ``frame_stats``.
  - ``--probs DIR``: ``mc_probs`` ``float[T, F, C, H, W]`` of video ``a/b`` in ``DIR/a/b.npy``
    (ids with ``/`` map to sub-folders); the scorer's own ``frame_stats`` reduces them.
  - neither, for scorers that need no model output (``random``, ``equidistant``).

* **budget**: ``"500"`` frames or ``"5%"`` of all pool frames (labelled ones included), rounded
  half-up, at least 1 (the rule of ``--step-pct``).

Randomness: the per-video ``frame_stats`` stream of video position ``i`` is
``phase_rng(seed, 0, "stats", i)`` and the selector's is ``phase_rng(seed, 0, "select")``, the
streams the loop uses in cycle 0.

Every problem with the inputs raises :class:`~asl_core.errors.AslUsageError` naming the file and
the problem (exit code 2 in the CLI), before any scoring where possible.
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from attrs import frozen

from .budget import round_half_up
from .config import TOP_LEVEL_KEYS, build_config
from .cost import CostModel, SelectionCost, selection_cost
from .errors import AslUsageError, ConfigError
from .interfaces import MC_PROBS, Scorer
from .loop import build_plugin, check_selection, check_stats, phase_rng
from .params import suggest
from .plugins import PluginManager
from .types import FrameStats, FrozenMap, LabelState, Selection, VideoInfo, readonly_array

__all__ = [
    "SOURCE_PROBS",
    "SOURCE_SCORER",
    "SOURCE_STATS",
    "BudgetSpec",
    "LabelsFile",
    "OfflineSelection",
    "check_out_path",
    "labels_json",
    "parse_budget",
    "parse_labels",
    "probs_files",
    "probs_path",
    "read_labels",
    "read_stats",
    "result_json",
    "select_config",
    "select_from_files",
    "selection_json",
]

#: where the per-frame statistics come from
SOURCE_STATS = "stats"  # the user's arrays, stored under the scorer's frame_stat_key
SOURCE_PROBS = "probs"  # the user's mc_probs, reduced by the scorer's frame_stats
SOURCE_SCORER = "scorer"  # the scorer's frame_stats with no model output (random, equidistant)

#: config sections ``asl-run select`` uses; the others would be silently ignored, so are refused
_SELECT_KEYS = frozenset({"scorer", "selector", "seed"})
_ENTRY_KEYS = ("num_frames", "labelled", "actors")
_LABELS_FORMAT = '{"videos": {"<video id>": {"num_frames": N, "labelled": [frame, ...]}, ...}}'
# what np.load raises on a damaged or foreign file
_LOAD_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)


def _few(items: Sequence[str], limit: int = 5) -> str:
    """``'a', 'b'`` (and how many more) for messages."""
    shown = ", ".join(repr(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --------------------------------------------------------------------------- labels


@frozen
class LabelsFile:
    """A parsed labels file.

    Attributes:
        path: the file.
        pool: its videos, sorted by id (the selectors' tie-break order).
        labels: their human-labelled frames.
        actors: ``{video: int64[F]}`` actors on each frame (for the annotation cost), or
            ``None`` when the file gives none (``"actors"`` is optional, for all videos or none).
    """

    path: Path
    pool: tuple[VideoInfo, ...]
    labels: LabelState
    actors: FrozenMap[str, np.ndarray] | None = None

    @property
    def total_frames(self) -> int:
        """Frames of all pool videos."""
        return sum(v.num_frames for v in self.pool)

    @property
    def unlabelled_frames(self) -> int:
        """Pool frames without a label."""
        return self.total_frames - self.labels.num_labelled


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys silently; a video listed twice is a mistake
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_labels(path: Path | str) -> LabelsFile:
    """Read and check a labels file (format: module docstring and ``docs/cli.md``).

    ``labelled`` may be omitted (no labelled frame) and may list a frame twice (kept once).

    Raises:
        AslUsageError: naming the file and the problem: missing or unreadable file, invalid
            JSON, a key given twice, another structure, no video, an unknown key (with a hint),
            ``num_frames`` not an integer >= 1, a labelled frame that is not an integer or out of
            range, ``actors`` that are not ``num_frames`` integers >= 0 or are given for some
            videos only.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AslUsageError(f"{path}: no such labels file") from None
    except IsADirectoryError:
        raise AslUsageError(f"{path}: is a folder; --labels takes a JSON file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AslUsageError(f"{path}: cannot read the labels file ({exc})") from None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as exc:
        raise AslUsageError(f"{path}: key {exc.key!r} appears twice in one object") from None
    except json.JSONDecodeError as exc:
        raise AslUsageError(f"{path}: not valid JSON ({exc})") from None
    pool, labels, actors = parse_labels(data, str(path))
    return LabelsFile(
        path=path,
        pool=tuple(sorted(pool, key=lambda v: v.id)),
        labels=labels,
        actors=actors,
    )


def parse_labels(
    data: Any, source: str
) -> tuple[list[VideoInfo], LabelState, FrozenMap[str, np.ndarray] | None]:
    """Check a parsed labels document (:func:`read_labels`'s format).

    Args:
        data: the document, ``{"videos": {...}}``.
        source: where it comes from, first in every message (the file name).

    Returns:
        ``(pool in the document's order, labelled frames, actors per frame or None)``.

    Raises:
        AslUsageError: as :func:`read_labels`.
    """
    if not isinstance(data, dict) or "videos" not in data:
        raise AslUsageError(f"{source}: expected {_LABELS_FORMAT}")
    for key in data:
        if key != "videos":
            raise AslUsageError(
                f"{source}: unknown top-level key {key!r}; the only key is 'videos' ({_LABELS_FORMAT})"
            )
    videos = data["videos"]
    if not isinstance(videos, dict) or not videos:
        raise AslUsageError(f"{source}: 'videos' must be a non-empty object ({_LABELS_FORMAT})")
    pool: list[VideoInfo] = []
    human: dict[str, list[int]] = {}
    actors: dict[str, np.ndarray] = {}
    for video, entry in videos.items():
        where = f"{source}: video {video!r}"
        if not video:
            raise AslUsageError(f"{source}: a video id is empty")
        if not isinstance(entry, dict):
            raise AslUsageError(
                f'{where}: expected {{"num_frames": N, "labelled": [frame, ...]}}, '
                f"got {type(entry).__name__}"
            )
        for key in entry:
            if key not in _ENTRY_KEYS:
                raise AslUsageError(
                    f"{where}: unknown key {key!r}{suggest(key, _ENTRY_KEYS)}; "
                    f"valid keys: {', '.join(_ENTRY_KEYS)}"
                )
        num_frames = entry.get("num_frames")
        if not _is_int(num_frames) or num_frames < 1:
            raise AslUsageError(f"{where}: num_frames must be an integer >= 1, got {num_frames!r}")
        labelled = entry.get("labelled", [])
        if not isinstance(labelled, list):
            raise AslUsageError(
                f"{where}: labelled must be a list of frame indices, got {labelled!r:.80}"
            )
        for frame in labelled:
            if not _is_int(frame):
                raise AslUsageError(
                    f"{where}: labelled frames must be integers (0-based), got {frame!r}"
                )
            if not 0 <= frame < num_frames:
                raise AslUsageError(
                    f"{where}: labelled frame {frame} is out of range "
                    f"(num_frames={num_frames}: frames 0..{num_frames - 1})"
                )
        if "actors" in entry:
            actors[video] = _actors(entry["actors"], num_frames, where)
        pool.append(VideoInfo(video, num_frames))
        human[video] = labelled
    if actors and len(actors) != len(pool):
        without = [v.id for v in pool if v.id not in actors]
        raise AslUsageError(
            f"{source}: 'actors' is given for {_videos(len(actors))} but not for "
            f"{_videos(len(without))} ({_few(without)}); give it for every video or for none"
        )
    return pool, LabelState(human=human), FrozenMap(actors) if actors else None


def _actors(value: Any, num_frames: int, where: str) -> np.ndarray:
    """One video's ``actors`` entry as a read-only ``int64[F]``, or a usage error."""
    if not isinstance(value, list):
        raise AslUsageError(
            f"{where}: actors must be a list of {num_frames} per-frame actor counts, "
            f"got {value!r:.80}"
        )
    if len(value) != num_frames:
        raise AslUsageError(
            f"{where}: actors has {len(value)} values, but num_frames={num_frames} "
            "(one count per frame)"
        )
    for frame, count in enumerate(value):
        if not _is_int(count) or count < 0:
            raise AslUsageError(
                f"{where}: actors must be integers >= 0 (actors on each frame), got {count!r} "
                f"at frame {frame}"
            )
    return readonly_array(value, dtype=np.int64)


def _videos(n: int) -> str:
    return f"{n} video{'s' if n != 1 else ''}"


def _check_same_videos(source: Path, found: Iterable[str], labels: LabelsFile, item: str) -> None:
    """Raise unless ``source`` holds exactly the videos of the labels file (``item``: what it
    holds per video, for the message)."""
    found = set(found)
    expected = {v.id for v in labels.pool}
    extra = sorted(found - expected)
    missing = sorted(expected - found)
    problems = []
    if extra:
        problems.append(f"{_videos(len(extra))} not in {labels.path} ({_few(extra)})")
    if missing:
        problems.append(f"no {item} for {_videos(len(missing))} of it ({_few(missing)})")
    if problems:
        raise AslUsageError(f"{source}: videos differ from the labels file: " + "; ".join(problems))


# --------------------------------------------------------------------------- statistics


def _checked_values(
    path: Path, video: VideoInfo, arr: np.ndarray, labels: LabelsFile
) -> np.ndarray:
    """One video's per-frame array as ``float64[F]``, or a usage error naming file and video."""
    where = f"{path}: video {video.id!r}"
    if arr.dtype.kind not in "fiu":
        raise AslUsageError(f"{where}: values must be real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise AslUsageError(
            f"{where}: expected a 1-D array of per-frame values, got shape {arr.shape}"
        )
    if arr.shape[0] != video.num_frames:
        raise AslUsageError(
            f"{where}: {arr.shape[0]} values, but {labels.path} gives num_frames={video.num_frames}"
        )
    values = arr.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        frame = int(np.flatnonzero(bad)[0])
        kind = "NaN" if math.isnan(values[frame]) else "infinite value"
        raise AslUsageError(f"{where}: {kind} at frame {frame}")
    return values


def read_stats(path: Path | str, labels: LabelsFile) -> dict[str, np.ndarray]:
    """Read an ``.npz`` of per-frame statistics and check it against the labels file.

    Args:
        path: ``numpy.savez`` archive, one 1-D real array per video, keyed by video id.
        labels: the parsed labels file (videos and lengths).

    Returns:
        ``{video id: float64[F]}`` in pool order.

    Raises:
        AslUsageError: naming the file: missing, not an ``.npz`` archive, videos that differ
            from the labels file, an array that is not 1-D and real, a length other than the
            video's ``num_frames``, or a NaN or infinite value (naming video and frame).
    """
    path = Path(path)
    if not path.exists():
        raise AslUsageError(f"{path}: no such statistics file")
    if path.is_dir():
        raise AslUsageError(
            f"{path}: is a folder; --stats takes an .npz file (--probs takes a folder)"
        )
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise AslUsageError(f"{path}: cannot read ({exc})") from None
    # np.load takes any other file for a pickle and says so, which would only confuse
    if not magic.startswith((b"PK", b"\x93NUMPY")):
        raise AslUsageError(
            f"{path}: not an .npz archive (write it with numpy.savez(path, **{{video_id: values}}))"
        )
    try:
        loaded = np.load(path, allow_pickle=False)
    except _LOAD_ERRORS as exc:
        raise AslUsageError(
            f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(loaded, np.ndarray):
        raise AslUsageError(
            f"{path}: holds a single array; --stats needs an .npz archive with one array per "
            "video (numpy.savez(path, **{video_id: values}))"
        )
    out: dict[str, np.ndarray] = {}
    with loaded as npz:
        _check_same_videos(path, npz.files, labels, "array")
        for video in labels.pool:
            try:
                arr = npz[video.id]
            except _LOAD_ERRORS as exc:
                raise AslUsageError(
                    f"{path}: video {video.id!r}: cannot read its array ({type(exc).__name__}: "
                    f"{exc})"
                ) from None
            out[video.id] = _checked_values(path, video, arr, labels)
    return out


def probs_path(root: Path | str, video: str) -> Path:
    """The ``mc_probs`` file of ``video`` under ``root``: ``root/<id>.npy``, where each ``/`` of
    the id is a sub-folder (``walk/walk_0007`` → ``root/walk/walk_0007.npy``).

    Raises:
        AslUsageError: for an id with an empty, ``.`` or ``..`` path segment (or a NUL), which
            cannot name a file under ``root`` (``..`` would leave it).
    """
    parts = video.split("/")
    if "\0" in video or any(part in ("", ".", "..") for part in parts):
        raise AslUsageError(
            f"video id {video!r} cannot name a file under --probs {root}: ids used with --probs "
            "must not have empty, '.' or '..' path segments"
        )
    return Path(root).joinpath(*parts[:-1], parts[-1] + ".npy")


def probs_files(root: Path | str, labels: LabelsFile) -> dict[str, Path]:
    """The ``mc_probs`` file of every pool video, checking that ``root`` holds exactly those.

    Raises:
        AslUsageError: if ``root`` is not a folder, an id cannot be a path (:func:`probs_path`),
            or the ``.npy`` files under ``root`` are not exactly the pool's videos.
    """
    root = Path(root)
    if not root.is_dir():
        raise AslUsageError(
            f"{root}: {'not a folder' if root.exists() else 'no such folder'}; --probs takes a "
            "folder with one <video id>.npy per video"
        )
    files = {v.id: probs_path(root, v.id) for v in labels.pool}
    found = [
        p.relative_to(root).as_posix()[: -len(".npy")] for p in root.rglob("*.npy") if p.is_file()
    ]
    _check_same_videos(root, found, labels, ".npy file")
    return files


def _load_probs(path: Path, video: VideoInfo, labels: LabelsFile) -> np.ndarray:
    """Memory-map one video's ``mc_probs`` (bounded memory: the scorer reads it in chunks) and
    check its shape against the labels file; values are the scorer's to check."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except _LOAD_ERRORS as exc:
        raise AslUsageError(
            f"{path}: not a readable .npy array ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise AslUsageError(f"{path}: an .npz archive; expected one .npy array (mc_probs)")
    if arr.ndim != 5:
        raise AslUsageError(
            f"{path}: expected {MC_PROBS} float[T, F, C, H, W] for video {video.id!r}, "
            f"got shape {arr.shape}"
        )
    if arr.shape[1] != video.num_frames:
        raise AslUsageError(
            f"{path}: {arr.shape[1]} frames (shape {arr.shape}), but {labels.path} gives "
            f"video {video.id!r} num_frames={video.num_frames}"
        )
    return arr


# --------------------------------------------------------------------------- budget


@frozen
class BudgetSpec:
    """A ``--budget`` value: a frame count or a percentage of all pool frames.

    Attributes:
        text: as given.
        frames: the count, or ``None`` for a percentage.
        pct: the percentage in ``(0, 100]``, or ``None`` for a count.
    """

    text: str
    frames: int | None = None
    pct: float | None = None

    def requested(self, total_frames: int) -> int:
        """Frames asked for in a pool of ``total_frames``: the count, or ``pct`` % of the pool
        rounded half-up and at least 1 (the rule of ``--step-pct``)."""
        if self.frames is not None:
            return self.frames
        assert self.pct is not None
        return max(1, round_half_up(total_frames * self.pct / 100.0))


def parse_budget(text: str) -> BudgetSpec:
    """Parse ``"500"`` (frames) or ``"5%"`` (percent of all pool frames).

    Raises:
        AslUsageError: for anything else, 0, a negative number, or a percentage above 100.
    """
    raw = str(text).strip()
    if raw.endswith("%"):
        try:
            pct = float(raw[:-1])
        except ValueError:
            pct = math.nan
        if not (math.isfinite(pct) and 0.0 < pct <= 100.0):
            raise AslUsageError(
                f"--budget {text!r}: a percentage must be a number in (0, 100], e.g. 5%"
            )
        return BudgetSpec(text=raw, pct=pct)
    try:
        frames = int(raw)
    except ValueError:
        raise AslUsageError(
            f"--budget {text!r}: expected a whole number of frames (e.g. 500) or a percentage of "
            "the pool's frames (e.g. 5%)"
        ) from None
    if frames < 1:
        raise AslUsageError(f"--budget {text!r}: the budget must be at least 1 frame")
    return BudgetSpec(text=raw, frames=frames)


# --------------------------------------------------------------------------- selection


@frozen
class OfflineSelection:
    """The result of :func:`select_from_files`.

    Attributes:
        selection: the chosen frames in pick order, with their scores when picked.
        labels: the labels file it was made from.
        budget_text: the budget as given (``"500"``, ``"5%"``).
        budget: frames the selector was asked for (the requested budget, clipped to the
            unlabelled frames).
        requested: frames the budget asked for before clipping.
        scorer: scorer name.
        selector: selector name.
        seed: the seed of the random streams.
        source: :data:`SOURCE_STATS`, :data:`SOURCE_PROBS` or :data:`SOURCE_SCORER`.
        notes: things the user should know (a clipped budget, an input that was not used).
        cost: the annotation cost of the selection when the labels file gives the actors of
            every frame, else ``None``.
    """

    selection: Selection
    labels: LabelsFile
    budget_text: str
    budget: int
    requested: int
    scorer: str
    selector: str
    seed: int
    source: str
    notes: tuple[str, ...] = ()
    cost: SelectionCost | None = None

    def summary(self) -> str:
        """One human line: what was selected from what."""
        videos = len({r.video for r in self.selection.frames})
        lab = self.labels
        return (
            f"selected {len(self.selection)} frames in {videos} video{'s' if videos != 1 else ''} "
            f"(--budget {self.budget_text}: {self.requested} frames); pool: {len(lab.pool)} "
            f"videos, {lab.total_frames} frames, {lab.labels.num_labelled} labelled; "
            f"scorer={self.scorer} selector={self.selector} seed={self.seed}"
            + ("" if self.cost is None else f"; {self.cost.summary()}")
        )


def select_config(
    scorer: str | None,
    selector: str | None,
    seed: int | None = None,
    cfg_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The merged config of a selection: the defaults, the plugin names, then ``--cfg-options``,
    exactly as ``asl-run`` merges them (:func:`asl_core.config.build_config`).

    Raises:
        ConfigError: for an override of a section ``asl-run select`` does not use (``task``,
            ``loss``, ``oracle``, ``budget``: it would be ignored silently), or anything
            ``build_config`` rejects.
    """
    options = dict(cfg_options or {})
    for key in options:
        section = key.split(".", 1)[0]
        # unknown sections are left to build_config, which suggests the closest key
        if section in TOP_LEVEL_KEYS and section not in _SELECT_KEYS:
            raise ConfigError(
                f"--cfg-options: {key!r}: asl-run select uses only the scorer.*, selector.* and "
                "seed keys"
            )
    return build_config(
        plugins={"scorer": scorer, "selector": selector},
        values={"seed": seed},
        cfg_options=options,
    )


def _stats_source(
    scorer: Scorer, name: str, stats: Path | None, probs: Path | None
) -> tuple[str, str | None]:
    """Which statistics the scorer gets, and a note when a given input goes unused."""
    key = getattr(scorer, "frame_stat_key", None)
    requires = frozenset(scorer.requires)
    readable = requires <= {MC_PROBS}
    unused = (
        f"scorer {name!r} needs no model output and computes its own statistics; "
        f"{'--stats' if stats else '--probs'} {stats or probs} was checked but not used"
    )
    if stats is not None:
        if key is not None:
            return SOURCE_STATS, None
        if not requires:
            return SOURCE_SCORER, unused
        hint = "; give --probs DIR with its mc_probs instead" if readable else ""
        raise AslUsageError(
            f"scorer {name!r} does not take a plain per-frame array (it declares no "
            f"frame_stat_key){hint}"
        )
    if probs is not None:
        if not requires:
            return SOURCE_SCORER, unused
        if readable:
            return SOURCE_PROBS, None
    elif not requires:
        return SOURCE_SCORER, None
    if not readable:
        raise AslUsageError(
            f"scorer {name!r} needs model outputs ({', '.join(sorted(requires))}) that asl-run "
            f"select cannot read (--probs gives {MC_PROBS})"
        )
    ways = ([f"--stats FILE.npz (its per-frame {key!r} values)"] if key is not None else []) + [
        f"--probs DIR ({MC_PROBS} per video)"
    ]
    raise AslUsageError(f"scorer {name!r} needs per-frame statistics: give {' or '.join(ways)}")


def select_from_files(
    *,
    labels: Path | str,
    budget: str | BudgetSpec,
    scorer: str,
    selector: str | None = None,
    stats: Path | str | None = None,
    probs: Path | str | None = None,
    seed: int | None = None,
    cfg_options: Mapping[str, Any] | None = None,
    manager: PluginManager,
    clicks_per_actor: float | str | None = None,
    frame_overhead: float | str | None = None,
) -> OfflineSelection:
    """Select frames to annotate from files, with no model (``asl-run select``).

    Args:
        labels: the labels file (videos, lengths, labelled frames).
        budget: ``"500"``, ``"5%"`` or a parsed :class:`BudgetSpec`. A budget larger than the
            unlabelled frames is clipped to them, with a note.
        scorer: scorer name.
        selector: selector name (``None``: the default config's, ``global``).
        stats: ``.npz`` of per-frame statistics (scorers with a ``frame_stat_key``).
        probs: folder of per-video ``mc_probs`` ``.npy`` files (scorers requiring ``mc_probs``).
        seed: seed of the random streams (``None``: the default config's, 0).
        cfg_options: parsed ``--cfg-options`` (``scorer.*``, ``selector.*``, ``seed``).
        manager: where plugin names are looked up.
        clicks_per_actor: the cost model's clicks per actor (``None``: 2); only with a labels
            file that gives ``actors``.
        frame_overhead: the cost model's clicks per frame (``None``: 0); likewise.

    Returns:
        The selection, with what it was made from, and its cost when the labels file gives
        the actors of every frame.

    Raises:
        AslUsageError: bad input files, budget, plugin names or parameters (exit code 2).
        PluginContractError: a scorer or selector that breaks its interface (exit code 1).
    """
    if stats is not None and probs is not None:
        raise AslUsageError("give --stats or --probs, not both")
    spec = budget if isinstance(budget, BudgetSpec) else parse_budget(budget)
    cost_model = CostModel.from_flags(clicks_per_actor, frame_overhead)
    lab = read_labels(labels)
    if lab.actors is None and (clicks_per_actor is not None or frame_overhead is not None):
        raise AslUsageError(
            f"{lab.path}: --clicks-per-actor and --frame-overhead price the selection by the "
            "actors on each frame, but this labels file gives no 'actors'; write it from your "
            'annotation files with asl-run data labels (or add "actors": [n per frame] to '
            "every video)"
        )
    cfg = select_config(scorer, selector, seed, cfg_options)
    scorer_name, scorer_obj = build_plugin(cfg, "scorer", manager)
    selector_name, selector_obj = build_plugin(cfg, "selector", manager)
    seed = int(cfg["seed"])
    stats_path = None if stats is None else Path(stats)
    probs_dir = None if probs is None else Path(probs)
    source, note = _stats_source(scorer_obj, scorer_name, stats_path, probs_dir)
    notes = [note] if note else []

    # read and check every input before scoring anything
    values = read_stats(stats_path, lab) if stats_path is not None else None
    files = probs_files(probs_dir, lab) if probs_dir is not None else None
    if files is not None and source != SOURCE_PROBS:
        for video in lab.pool:
            _load_probs(files[video.id], video, lab)
    unlabelled = lab.unlabelled_frames
    if unlabelled == 0:
        raise AslUsageError(f"{lab.path}: every frame of the pool is labelled; nothing to select")
    requested = spec.requested(lab.total_frames)
    frames = min(requested, unlabelled)
    if requested > unlabelled:
        notes.append(
            f"--budget {spec.text} asks for {requested} frames but only {unlabelled} are "
            "unlabelled; selecting all of them"
        )

    ordered: dict[str, FrameStats] = {}
    for index, video in enumerate(lab.pool):
        if source == SOURCE_STATS:
            assert values is not None
            key = scorer_obj.frame_stat_key  # type: ignore[attr-defined]
            st: Any = FrameStats.of(video.id, video.num_frames, **{key: values[video.id]})
        else:
            outputs: dict[str, np.ndarray] = {}
            if source == SOURCE_PROBS:
                assert files is not None
                outputs[MC_PROBS] = _load_probs(files[video.id], video, lab)
            rng = phase_rng(seed, 0, "stats", index)
            try:
                st = scorer_obj.frame_stats(video, outputs, rng)
            except ValueError as exc:
                if source != SOURCE_PROBS:
                    raise
                # the scorer names the video and the first bad frame; add the file
                raise AslUsageError(f"{files[video.id]}: {exc}") from None  # type: ignore[index]
        ordered[video.id] = check_stats(st, video, scorer_name)
    try:
        prepared = scorer_obj.prepare_pool(ordered)
        ordered = {v.id: check_stats(prepared.get(v.id), v, scorer_name) for v in lab.pool}
        sel = selector_obj.select(
            ordered, lab.labels, frames, scorer_obj, phase_rng(seed, 0, "select")
        )
    except ValueError as exc:
        if source != SOURCE_STATS:
            raise
        # the values came from the user, so a scorer refusing them (e.g. aghdam's entropy
        # outside [0, 1]) is bad input, not a plugin failure
        raise AslUsageError(
            f"{stats_path}: scorer {scorer_name!r} cannot use these values: {exc}"
        ) from None
    pool = {v.id: v.num_frames for v in lab.pool}
    sel = check_selection(sel, lab.labels, frames, pool, selector_name)
    cost = None if lab.actors is None else selection_cost(sel.frames, lab.actors, cost_model)
    return OfflineSelection(
        selection=sel,
        labels=lab,
        budget_text=spec.text,
        budget=frames,
        requested=requested,
        scorer=scorer_name,
        selector=selector_name,
        seed=seed,
        source=source,
        notes=tuple(notes),
        cost=cost,
    )


def selection_json(sel: Selection) -> str:
    """The output of ``asl-run select``: a JSON list of ``{"video", "frame", "score"}`` in pick
    order (``score``: the frame's score when it was picked), indented, with a final newline."""
    records = [
        {"video": ref.video, "frame": ref.frame, "score": float(score)}
        for ref, score in zip(sel.frames, sel.scores, strict=True)
    ]
    return json.dumps(records, indent=2) + "\n"


def result_json(result: OfflineSelection) -> str:
    """What ``asl-run select`` writes: :func:`selection_json` when the selection has no cost;
    with a cost (a labels file with ``actors``), an object ``{"cost": {...}, "frames": [...]}``
    whose records also give each frame's ``actors``."""
    if result.cost is None or result.labels.actors is None:
        return selection_json(result.selection)
    actors = result.labels.actors
    records = [
        {
            "video": ref.video,
            "frame": ref.frame,
            "score": float(score),
            "actors": int(actors[ref.video][ref.frame]),
        }
        for ref, score in zip(result.selection.frames, result.selection.scores, strict=True)
    ]
    return json.dumps({"cost": result.cost.as_dict(), "frames": records}, indent=2) + "\n"


def labels_json(
    pool: Sequence[VideoInfo],
    labels: LabelState,
    actors: Mapping[str, Sequence[int] | np.ndarray] | None = None,
) -> str:
    """A labels file (:func:`read_labels`'s format), one video per line, in ``pool`` order.

    Args:
        pool: the videos and their lengths.
        labels: their labelled frames (human labels).
        actors: ``{video: int[F]}`` actors on each frame of every video, or ``None``.

    Returns:
        The JSON text, with a final newline.
    """
    lines = []
    for video in pool:
        entry: dict[str, Any] = {
            "num_frames": video.num_frames,
            "labelled": [int(f) for f in labels.labelled(video.id)],
        }
        if actors is not None:
            entry["actors"] = [int(n) for n in actors[video.id]]
        lines.append(f"    {json.dumps(video.id)}: {json.dumps(entry)}")
    return '{\n  "videos": {\n' + ",\n".join(lines) + "\n  }\n}\n"


def check_out_path(path: Path | str) -> Path:
    """Check that ``--out`` can be written before any work is done.

    Raises:
        AslUsageError: if it is a folder or its folder does not exist.
    """
    path = Path(path)
    if path.is_dir():
        raise AslUsageError(f"{path}: is a folder; --out takes a file name")
    if not path.parent.is_dir():
        raise AslUsageError(f"{path}: folder {path.parent} does not exist")
    return path
