"""``fpsboost bench EXPERIMENT``: every recorded experiment is a command of the evaluation package.

No timing assertions: the experiments record speeds, these tests only check that they run and write
what they say they write.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from fpsboost.cli import main
from fpsboost.evaluation.experiments import EXPERIMENTS, find_experiment, load_experiment

REPOSITORY = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda experiment: experiment.name)
def test_every_experiment_is_a_command_with_its_settings_as_options(experiment):
    module = load_experiment(experiment)
    assert dataclasses.is_dataclass(module.Settings) and callable(module.run)
    defaults = module.Settings()
    assert Path(defaults.out_dir) == Path(experiment.results), "an experiment records into its own folder"
    result = CliRunner().invoke(main, ["bench", experiment.name, "--help"])
    assert result.exit_code == 0, result.output
    assert "--out-dir" in result.output and f"fpsboost bench {experiment.name}" in result.output


def test_benchmarks_keeps_results_not_code():
    """The code lives in fpsboost.evaluation; benchmarks/ holds what the runs recorded."""
    assert sorted(path.relative_to(REPOSITORY).as_posix() for path in (REPOSITORY / "benchmarks").rglob("*.py")) == []


def test_an_unknown_experiment_is_a_one_line_error():
    result = subprocess.run([str(Path(sys.executable).with_name("fpsboost")), "bench", "no-such-experiment"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "No such command 'no-such-experiment'" in result.stderr and "Traceback" not in result.stderr


def test_listing_the_experiments_loads_no_torch():
    code = ("import sys; from click.testing import CliRunner; from fpsboost.cli import main; "
            "result = CliRunner().invoke(main, ['bench', '--help']); "
            "assert result.exit_code == 0 and 'four-frame-trust' in result.output, result.output; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_an_experiment_runs_and_records_commit_machine_and_command(tmp_path, tiny_weights):
    """``fpsboost bench v2-speed``, one round on two tiny networks: speed.json with what was measured."""
    result = CliRunner().invoke(main, ["bench", "v2-speed", "--v1", str(tiny_weights), "--v2", str(tiny_weights),
                                       "--rounds", "1", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "speed.json").read_text())
    assert report["commit"] and report["machine"]["cores"] >= 1 and report["command"]
    assert report["rounds"] == 1 and all(value > 0 for value in report["ms_per_inbetween_median"].values())
    assert not (tmp_path / "RESULTS.md").exists()


def test_the_quality_table_runs_from_the_command(tmp_path, tiny_weights):
    """``fpsboost bench quality``: a small table with the network and DIS rows, as JSON and Markdown."""
    json_path, markdown_path = tmp_path / "quality.json", tmp_path / "quality.md"
    result = CliRunner().invoke(main, ["bench", "quality", "--weights", str(tiny_weights), "--pairs", "3", "--size", "96x64",
                                       "--json", str(json_path), "--markdown", str(markdown_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(json_path.read_text())
    methods = {row["method"] for row in report["rows"] if row["set"] == "synthetic" and row["split"] == "all"}
    assert {"fpsboost", "dis", "blend", "duplicate"} <= methods
    assert report["synthetic"]["size"] == [96, 64] and len(report["synthetic"]["seeds"]) == 3
    assert "| synthetic | all | 3 | **fpsboost** |" in markdown_path.read_text()


def test_quality_options_are_checked():
    result = CliRunner().invoke(main, ["bench", "quality", "--compare", "no-equals-sign"])
    assert result.exit_code == 2 and "--compare wants NAME=WEIGHTS" in result.output


def test_find_experiment_names_the_known_ones():
    from fpsboost.errors import OptionError

    assert find_experiment("ceiling").module == "ceiling"
    with pytest.raises(OptionError, match="use ceiling, flow"):
        find_experiment("nope")


def test_the_splat_rule_experiment_scores_every_rule_and_leaves_the_shipped_constants(tmp_path):
    """``fpsboost bench splat-rule`` on the training's validation scenes only (one each): a row per rule,
    and the module's constants as they were afterwards (the experiment sets them one rule at a time)."""
    from fpsboost.evaluation.experiments.splat_rule import RELATIVE_GRID
    from fpsboost.models import visibility

    shipped = (visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED)
    result = CliRunner().invoke(main, ["bench", "splat-rule", "--per-split", "0", "--windows", "0",
                                       "--validation-scenes", "1", "--threads", "1", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "results.json").read_text())
    assert len(report["psnr"]) == 1 + len(RELATIVE_GRID)
    assert all(set(row) == {"validation 192 px", "validation 1.5x canvas"} for row in report["psnr"].values())
    assert all(10 < value < 70 for row in report["psnr"].values() for value in row.values())
    assert (visibility.SPLAT_MAX_INCONSISTENCY, visibility.SPLAT_UNCOVERED) == shipped
    assert "| splat | " in (tmp_path / "RESULTS.md").read_text()


def test_the_dis_hypotheses_experiment_scores_every_variant_and_leaves_dis_as_shipped(tmp_path):
    """``fpsboost bench dis-hypotheses`` on one validation scene each: a row per variant, and DIS's
    module settings as they were afterwards (the experiment switches them one variant at a time)."""
    from fpsboost.models import classical_flow

    names = ("CHROMA_HYPOTHESIS", "CHOICE_WINDOW", "LUMA_FINEST_SCALE", "CHROMA_FINEST_SCALE")
    shipped = [getattr(classical_flow, name) for name in names]
    result = CliRunner().invoke(main, ["bench", "dis-hypotheses", "--per-split", "0", "--windows", "0",
                                       "--validation-scenes", "1", "--threads", "1", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    psnr = json.loads((tmp_path / "results.json").read_text())["psnr"]
    assert "luma only" in psnr and len(psnr) >= 4 and len({row["validation 192 px"] for row in psnr.values()}) > 1
    assert [getattr(classical_flow, name) for name in names] == shipped
