"""One campaign folder, one process: a second is refused. Corrupt manifests and path-like plan
names are refused with one line, exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "procedures"))
from campaign_helpers import FakeBench  # noqa: E402
from safety_helpers import (  # noqa: E402
    REPO,
    finish,
    manifest,
    realtime_bench,
    running_attempt_started,
    start_child,
    wait_for,
)

from memlab.cli import main  # noqa: E402
from memlab.procedures.campaign import Campaign, CampaignBusyError  # noqa: E402
from memlab.procedures.plan import PlanError, parse_plan  # noqa: E402

PLAN = """
name: folder
devices: [[0, 0], [1, 1]]
steps:
  - procedure: readout
    params: {reads: 3}
"""


def test_a_second_process_on_the_same_campaign_folder_is_refused(tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("reads: 3", "reads: 300, nplc: 1.0"))
    bench = realtime_bench(tmp_path)
    out = tmp_path / "out"
    first = start_child(tmp_path, ["campaign", str(plan), "--bench", str(bench), "--out", str(out)])
    try:
        wait_for(lambda: running_attempt_started(out), what="the first campaign's run")
        before = manifest(out)["attempts"]
        for extra in ([], ["--resume"]):  # a fresh start and a resume alike
            second = subprocess.run(
                [sys.executable, "-m", "memlab", "campaign", str(plan), "--bench", str(bench),
                 "--out", str(out), *extra],
                capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""})
            assert second.returncode == 2, second.stderr
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1 and "already running in this folder" in lines[0], second.stderr
            assert str(out) in lines[0] and "pid" in lines[0]
        # Untouched by the refused ones: no attempt added or restarted. (The first campaign may
        # have finished a task meanwhile on a loaded machine: its status and end are its own.)
        after = manifest(out)["attempts"]
        identity = ("task", "attempt", "file", "started")
        assert [{k: a[k] for k in identity} for a in after[: len(before)]] == \
            [{k: a[k] for k in identity} for a in before]
    finally:
        first.terminate()
        finish(first)
    assert manifest(out)["status"] == "aborted"
    assert not list(out.glob("*.tmp"))


def test_lock_is_released_when_the_campaign_ends(tmp_path):
    out = tmp_path / "out"
    Campaign(parse_plan(PLAN.replace("readout", "test-probe").replace("reads: 3", "reads: 1")),
             FakeBench(), out).run()
    # the same folder again in this process: not busy, only "already holds a campaign"
    with pytest.raises(PlanError, match="--resume") as caught:
        Campaign(parse_plan(PLAN.replace("readout", "test-probe").replace("reads: 3", "reads: 1")),
                 FakeBench(), out).run()
    assert not isinstance(caught.value, CampaignBusyError)


@pytest.mark.parametrize("content,complaint", [
    ("[]", "expected a JSON object at the top, found list"),
    ('[{"oops": 1}]', "expected a JSON object at the top, found list"),
    ('{"plan_digest": "x", "attempts": 5}', "'attempts' must be a list of records, found int"),
    ('{"plan_digest": "x", "attempts": [{"oops": 1}]}', "attempts[0] has no string 'task'"),
    ('{"plan_digest": "x", "attempts": [{"task": "t", "status": "completed", "file": "../../x.h5"}]}',
     "is not a plain file name"),
    ("{not json", "cannot read the campaign manifest"),
    ('{"attempts": []}', "'plan_digest' is missing"),
], ids=["list", "list-of-objects", "attempts-int", "record-without-task", "file-path", "not-json",
        "no-digest"])
def test_a_corrupt_manifest_on_resume_is_one_line_naming_the_file_exit_2(tmp_path, capsys, content, complaint):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(content)
    assert main(["campaign", str(plan), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(out / "manifest.json") in err and complaint in err


@pytest.mark.parametrize("name", ["../../../../X", "a/b", "..", ".hidden", "tab\there", "x" * 101, "c:\\x"])
def test_a_plan_name_that_is_not_one_folder_name_is_refused(tmp_path, capsys, monkeypatch, name):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.replace("name: folder", f"name: {json.dumps(name)}"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert main(["campaign", str(plan)]) == 2  # default --out runs/<name>
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "name:" in err and "not allowed" in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["plan.yaml", "work"]  # nothing written


def test_an_out_folder_that_cannot_be_used_is_one_line_exit_2(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("")
    for out in (in_the_way, in_the_way / "below"):
        assert main(["campaign", str(plan), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--out" in err and "is a file" in err, err
