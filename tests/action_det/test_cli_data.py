"""``asl-run data synth``."""

from __future__ import annotations

from asl_core.cli import main


def test_data_synth_writes_a_readable_dataset(tmp_path, capsys):
    """The command writes the ACT layout into an empty folder and says where."""
    out = tmp_path / "synth"
    code = main(
        [
            "data",
            "synth",
            "--out",
            str(out),
            "--cfg-options",
            "num_train=3",
            "num_test=2",
            "size=32",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "SynthActions-GT.pkl").is_file() and (out / "Frames").is_dir()
    assert "wrote dataset 'synthetic_actions'" in capsys.readouterr().out


def test_data_synth_refuses_a_non_empty_folder(tmp_path, capsys):
    """Nothing is written into a folder that already holds files."""
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["data", "synth", "--out", str(tmp_path)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_data_synth_rejects_unknown_generator_parameters(tmp_path, capsys):
    """A misspelled generator parameter is a usage error with a hint."""
    assert (
        main(["data", "synth", "--out", str(tmp_path / "x"), "--cfg-options", "num_trian=3"]) == 2
    )
    assert "did you mean 'num_train'" in capsys.readouterr().err
