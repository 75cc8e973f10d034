"""The whole human-in-the-loop round trip through ``asl-run`` with the ``exchange`` oracle on
the fake task: the run pauses (exit 3), ``export`` writes the waiting frames, an annotator's
edit is imported, ``--resume`` trains on it and finishes."""

from __future__ import annotations

import json
from pathlib import Path

from asl_core.cli import EXIT_AWAITING, main
from asl_core.ledger import Ledger
from tests.conftest import SMALL_TASK

OPTS = [f"task.{k}={v}" for k, v in SMALL_TASK.items() if k != "type"]


def _start(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    argv = ["--oracle", "exchange", "--work-dir", str(run), "--quiet", "--cfg-options", *OPTS]
    assert main([*argv, "budget.cycles=0"]) == EXIT_AWAITING
    return run


def _waiting(run: Path) -> list[tuple[str, int]]:
    data = json.loads((run / "cycles" / "000" / "selection.json").read_text())
    return [(v, f) for v, f, _ in data["frames"]]


def test_coco_round_trip_through_the_cli(tmp_path: Path, capsys) -> None:
    run = _start(tmp_path)
    out = tmp_path / "frames.json"
    assert main(["export", "--run", str(run), "--format", "coco", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["images"]) == len(_waiting(run))
    # the annotator draws one box on every frame
    doc["annotations"] = [
        {"id": i + 1, "image_id": img["id"], "category_id": 1, "bbox": [1, 1, 3, 3], "iscrowd": 0}
        for i, img in enumerate(doc["images"])
    ]
    out.write_text(json.dumps(doc))
    assert main(["import", "--run", str(run), str(out)]) == 0
    assert "complete" in capsys.readouterr().out
    records = Ledger(run / "ledger.jsonl").read().records
    assert sorted((r.annotation.video, r.annotation.frame) for r in records) == sorted(
        _waiting(run)
    )
    assert all(r.annotation.regions[0].box == (1.0, 1.0, 4.0, 4.0) for r in records)
    assert all(r.annotation.cost == 2.0 for r in records)  # one box = 2 clicks
    # a second import of the same file adds nothing
    before = (run / "ledger.jsonl").read_bytes()
    assert main(["import", "--run", str(run), str(out)]) == 0
    assert (run / "ledger.jsonl").read_bytes() == before
    assert main(["--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "state.json").read_text())["status"] == "finished"


def test_labelstudio_round_trip_with_lead_time_as_cost(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    argv = ["--oracle", "exchange", "--work-dir", str(run), "--quiet", "--cfg-options", *OPTS]
    assert main([*argv, "budget.cycles=0", "oracle.cost_unit=seconds"]) == EXIT_AWAITING
    out = tmp_path / "tasks.json"
    assert main(["export", "--run", str(run), "--format", "labelstudio", "--out", str(out)]) == 0
    tasks = json.loads(out.read_text())
    waiting = _waiting(run)
    for task in tasks:
        video = task["data"]["asl_video"]
        frames = [f for v, f in waiting if v == video]
        sequence = [
            {"frame": f + 1, "x": 10.0, "y": 10.0, "width": 25.0, "height": 25.0, "enabled": False}
            for f in frames
        ]
        task["annotations"] = [
            {
                "id": 1,
                "lead_time": 6.0 * len(frames),
                "result": [
                    {
                        "id": "a",
                        "type": "videorectangle",
                        "from_name": "box",
                        "to_name": "video",
                        "value": {"sequence": sequence, "labels": ["class0"]},
                    }
                ],
            }
        ]
    out.write_text(json.dumps(tasks))
    assert main(["import", "--run", str(run), str(out)]) == 0
    records = Ledger(run / "ledger.jsonl").read().records
    assert sorted((r.annotation.video, r.annotation.frame) for r in records) == sorted(waiting)
    assert {r.annotation.cost for r in records} == {6.0}  # lead_time shared over the frames
    assert main(["--resume", str(run), "--quiet"]) == 0


def test_importing_into_a_run_that_does_not_wait_exits_2(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    assert main(["--work-dir", str(run), "--quiet", "--cfg-options", *OPTS, "budget.cycles=0"]) == 0
    file = tmp_path / "x.json"
    file.write_text("[]")
    assert main(["import", "--run", str(run), str(file)]) == 2
    assert "not waiting for annotations" in capsys.readouterr().err


def test_export_refuses_to_overwrite_a_file(tmp_path: Path, capsys) -> None:
    run = _start(tmp_path)
    out = tmp_path / "frames.json"
    out.write_text("keep me")
    assert main(["export", "--run", str(run), "--format", "coco", "--out", str(out)]) == 2
    assert out.read_text() == "keep me"


def test_cvat_round_trip_through_the_cli(tmp_path: Path, capsys) -> None:
    """Export one CVAT for video 1.1 file per video into a folder; the annotator draws a track
    with a keyframe on each requested frame (and CVAT's interpolated frames between them)."""
    import xml.etree.ElementTree as ET

    run = _start(tmp_path)
    out = tmp_path / "cvat"
    assert main(["export", "--run", str(run), "--format", "cvat", "--out", str(out)]) == 0
    waiting = _waiting(run)
    files = sorted(out.glob("*.xml"))
    assert {p.stem for p in files} == {v for v, _ in waiting}
    for path in files:
        tree = ET.parse(path)
        frames = sorted(f for v, f in waiting if v == path.stem)
        track = ET.SubElement(tree.getroot(), "track", id="0", label="class0", source="manual")
        for f in range(frames[0], frames[-1] + 1):
            ET.SubElement(
                track,
                "box",
                frame=str(f),
                keyframe="1" if f in frames else "0",
                outside="0",
                occluded="0",
                xtl="1.00",
                ytl="1.00",
                xbr="5.00",
                ybr="5.00",
                z_order="0",
            )
        ET.SubElement(
            track,
            "box",
            frame=str(frames[-1] + 1),
            keyframe="1",
            outside="1",
            occluded="0",
            xtl="1.00",
            ytl="1.00",
            xbr="5.00",
            ybr="5.00",
            z_order="0",
        )
        tree.write(path)
    assert main(["import", "--run", str(run), str(out)]) == 0
    text = capsys.readouterr().out
    assert "complete" in text
    records = Ledger(run / "ledger.jsonl").read().records
    # only the keyframes are bought, never CVAT's interpolated frames
    assert sorted((r.annotation.video, r.annotation.frame) for r in records) == sorted(waiting)
    assert all(r.annotation.regions[0].box == (1.0, 1.0, 5.0, 5.0) for r in records)
    assert main(["--resume", str(run), "--quiet"]) == 0
