"""The lab command: a report on a tiny run, the listing, the comparison grid and one-line errors."""

from __future__ import annotations

import json

import pytest

from unrolled.cli import main

TINY = ["--steps", "4", "--batch", "4", "--hidden", "6"]


def test_lab_run_writes_its_report(tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(["lab", "adding", "--cell", "gru", "--length", "6", *TINY, "--out", str(out), "--regularize", "pascanu"])
    assert rc == 0
    for name in ("report.txt", "metrics.json", "gradient_norms.png", "loss.png", "metrics.csv", "gradient_norms.json"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["baseline"] == pytest.approx(1 / 6) and m["steps"] == 4
    assert m["ratio_to_baseline"] == pytest.approx(m["valid_loss"] / m["baseline"])
    first = (out / "report.txt").read_text().splitlines()[0]
    assert first.startswith("adding T=6, gru: ") and ("chance" in first)
    curves = json.loads((out / "gradient_norms.json").read_text())
    assert curves and all(len(v) == 6 for v in curves.values())  # one norm per time step
    assert "report in" in capsys.readouterr().out


def test_lab_copy_with_the_ntm_writes_its_report(tmp_path, capsys):
    out = tmp_path / "ntm"
    argv = ["lab", "copy", "--model", "ntm", "--length", "1", "--steps", "2", "--batch", "2", "--hidden", "4"]
    assert main([*argv, "--out", str(out)]) == 0
    for name in ("report.txt", "metrics.json", "gradient_norms.png", "gradient_norms.json"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["cell"] == "ntm" and m["model"].startswith("ntm (lstm controller, memory 21x20")  # a row per step
    assert m["config"]["model"] == "ntm" and m["steps"] == 2 and m["accuracy"] is not None
    report = (out / "report.txt").read_text()
    assert report.startswith("copy T=1, ntm") and "gradient norms: ||dL/dy_t|| of the NTM" in report
    curves = json.loads((out / "gradient_norms.json").read_text())
    assert curves and all(len(v) == 21 for v in curves.values())  # T + 20 steps
    assert "report in" in capsys.readouterr().out


def test_lab_irnn_and_chrono_descriptions(tmp_path):
    out = tmp_path / "irnn"
    assert main(["lab", "xor", "--cell", "elman", "--init", "identity", "--length", "4", *TINY, "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["model"] == "elman (relu, IRNN), init identity"


def test_lab_list(capsys):
    assert main(["lab", "--list"]) == 0
    text = capsys.readouterr().out
    assert "adding" in text and "1/6" in text and "10 ln 8 / (T+20)" in text


def test_lab_compare_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["lab", "compare", "copy", "--cells", "elman,lstm", "--lengths", "2", *TINY, "--workers", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    table = (out / "compare.md").read_text()
    assert table.count("\n| elman | 2 |") == 1 and table.count("\n| lstm | 2 |") == 1
    assert (out / "compare.png").is_file() and (out / "lstm-T2" / "report.txt").is_file()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["lab", "nope"], "unknown synthetic task 'nope'"),
        (["lab", "adding", "--length", "1"], "expected a length (T) that is an integer >= 2, got 1"),
        (["lab", "digits", "--length", "10"], "expected a length (T) in (8, 64)"),
        (["lab", "compare", "adding", "--lengths", "10,x"], "--lengths: expected comma-separated integers"),
        (["lab", "compare", "adding", "--lengths", "0"], "expected a length (T)"),
        (["lab", "compare", "adding", "--cells", "lstm,foo"], "unknown cell 'foo'"),
        (["lab", "adding", "--init", "nope"], "unknown initialisation 'nope'"),
        (["lab"], "expected a task"),
        (["lab", "copy", "--model", "ntm", "--cell", "gru"], "--cell is a chain option; --model ntm does not take it"),
        (["lab", "copy", "--model", "ntm", "--init", "chrono"], "--init is a chain option"),
        (["lab", "compare", "copy", "--model", "ntm"], "lab compare: grids chain cells only"),
    ],
)
def test_bad_names_and_lengths_are_one_line_errors(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("unrolled: error:")
    assert not (tmp_path / "x").exists()


def test_run_lab_reports_the_first_step_below_a_target(tmp_path):
    from unrolled.tasks.lab.run import LabConfig, run_lab

    cfg = LabConfig(
        task="parity",
        cell="lstm",
        length=3,
        steps=2,
        batch_size=4,
        hidden=4,
        valid_batches=1,
        target_loss=1e9,
        out=str(tmp_path / "t"),
    )
    m = run_lab(cfg)
    assert m["steps_to_target"] == 1 and m["seconds_to_target"] is not None and m["steps_to_10x"] is None
    with pytest.raises(ValueError, match="LabConfig.target_loss"):
        LabConfig(target_loss=-1.0)
