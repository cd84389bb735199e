"""The chapter runner and CLI: validation before execution, caching, atomic runs, failures, interruption."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lsa.data.checksums import ChecksumError, update_manifest, verify, verify_all
from lsa.runner.claims import Claim, ClaimError, evaluate, load_claims
from lsa.runner.params import ParameterError, parse_override, parse_parameters_cell, resolve

TINY = """# %% [markdown]
# # Tiny test chapter

# %% tags=["profiles"]
PROFILES = {"smoke": {"n": 2}, "default": {}, "paper": {"n": 100}}

# %% tags=["parameters"]
profile: str = "default"  # smoke | default | paper
seed: int = 0  # seed
n: int = 5  # number of things
scale: float = 1.5  # a scale
tags: list[str] = ["a", "b"]  # some labels

# %%
import os
import time
from pathlib import Path

import lsa

Path("started.txt").write_text("started")
if os.environ.get("TINY_FAIL"):
    raise RuntimeError("deliberate failure for the test")
time.sleep(float(os.environ.get("TINY_SLEEP", "0")))

# %%
lsa.write_metrics({"total": n * scale, "n": n, "ntags": len(tags)})
"""

CLAIMS = """- id: T1
  statement: "total is n times the scale"
  source: ours
  kind: guarantee
  profiles: [smoke, default]
  measured: total, n
  check: "total == n * 1.5"
  expected: "n × 1.5"
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "tiny.py").write_text(TINY)
    (nb / "tiny.claims.yaml").write_text(CLAIMS)
    runs = tmp_path / "runs"
    monkeypatch.setenv("LSA_NOTEBOOKS_DIR", str(nb))
    monkeypatch.setenv("LSA_RUNS_DIR", str(runs))
    monkeypatch.setenv("LSA_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("TINY_FAIL", raising=False)
    monkeypatch.delenv("TINY_SLEEP", raising=False)
    return tmp_path


def lsa(*args, extra_env=None, **kw):
    env = {**os.environ, **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "lsa.cli", *args], capture_output=True, text=True, env=env, **kw)


def good_runs(root: Path) -> list[Path]:
    base = root / "runs" / "tiny"
    return (
        sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "failed-")))
        if base.exists()
        else []
    )


def test_list_shows_parameters(env):
    out = lsa("list")
    assert out.returncode == 0
    assert "tiny — Tiny test chapter" in out.stdout and "n: int = 5" in out.stdout and "# a scale" in out.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "nosuch"], "available chapters: tiny"),
        (["run", "tiny", "-p", "n"], "name=value"),
        (
            ["run", "tiny", "-p", "m=3"],
            "unknown parameter(s) 'm'; valid parameters: seed (int), n (int), scale (float)",
        ),
        (["run", "tiny", "-p", "n=abc"], "expects int"),
        (["run", "tiny", "-p", "scale=1.5.2"], "expects float"),
        (["run", "tiny", "-p", "profile=smoke"], "--profile"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(env, args, needle):
    out = lsa(*args)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (env / "runs").exists()  # nothing executed, nothing written


def test_run_writes_a_complete_folder_then_reuses_it(env):
    out = lsa("run", "tiny", "--profile", "smoke", "-q", "-p", "tags=x,y,z")
    assert out.returncode == 0, out.stderr
    (run,) = good_runs(env)
    assert {p.name for p in run.iterdir()} >= {"tiny.ipynb", "params.json", "metrics.json", "claims.json", "run.json"}
    assert json.loads((run / "metrics.json").read_text()) == {"total": 3.0, "n": 2, "ntags": 3}
    params = json.loads((run / "params.json").read_text())
    assert params == {"profile": "smoke", "seed": 0, "n": 2, "scale": 1.5, "tags": ["x", "y", "z"]}
    assert [c["status"] for c in json.loads((run / "claims.json").read_text())] == ["pass"]
    again = lsa("run", "tiny", "--profile", "smoke", "-q", "-p", "tags=['x', 'y', 'z']")
    assert again.returncode == 0 and "reusing run" in again.stdout
    assert good_runs(env) == [run]
    claims = lsa("claims", "tiny", "--profile", "smoke")
    assert claims.returncode == 0 and "T1" in claims.stdout and "pass" in claims.stdout


def test_failing_cell_keeps_the_good_run(env):
    assert lsa("run", "tiny", "-q").returncode == 0
    (run,) = good_runs(env)
    before = (run / "metrics.json").read_bytes()
    out = lsa("run", "tiny", "-q", "--force", extra_env={"TINY_FAIL": "1"})
    assert out.returncode == 1
    assert "RuntimeError: deliberate failure for the test" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    failed = env / "runs" / "tiny" / f"failed-{run.name}"
    assert (failed / "tiny.ipynb").is_file()
    assert good_runs(env) == [run] and (run / "metrics.json").read_bytes() == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_interrupted_run_keeps_the_good_run(env, sig):
    assert lsa("run", "tiny", "-q").returncode == 0
    (run,) = good_runs(env)
    before = (run / "metrics.json").read_bytes()
    # A background job (`make test &`, nohup, a script) inherits SIGINT *ignored*, and Python then installs no
    # KeyboardInterrupt handler: give the child the default disposition, as an interactive shell would.
    proc = subprocess.Popen(
        [sys.executable, "-m", "lsa.cli", "run", "tiny", "-q", "--force"],
        env={**os.environ, "TINY_SLEEP": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while not list((env / "runs" / "tiny").glob(".tmp-*/started.txt")):
        assert time.time() < deadline and proc.poll() is None, "the run never started"
        time.sleep(0.2)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert good_runs(env) == [run] and (run / "metrics.json").read_bytes() == before
    assert not list((env / "runs" / "tiny").glob(".tmp-*"))


def test_parameter_parsing():
    p = {
        q.name: q
        for q in parse_parameters_cell(
            "profile: str = 'default'  # p\nseed: int = 0  # s\nx: float = 1  # x\nf: bool = True  # f\n"
            "xs: list[float] = [1, 2.5]  # xs\n"
        )
    }
    assert p["x"].default == 1.0 and p["x"].comment == "x"
    assert parse_override(p["xs"], "[0.1, 2]") == [0.1, 2.0]
    assert parse_override(p["xs"], "0.1, 2") == [0.1, 2.0]
    assert parse_override(p["f"], "no") is False
    with pytest.raises(ParameterError, match="expects bool"):
        parse_override(p["f"], "maybe")
    with pytest.raises(ParameterError, match="expects list"):
        parse_override(p["xs"], "['a']")
    with pytest.raises(ParameterError, match="unknown profile"):
        resolve(list(p.values()), {}, "huge", {})
    for bad, needle in [
        ("profile: str = 'a'\nseed = 0\n", "expected 'name: type"),
        ("profile: str = 'a'\nseed: complex = 0\n", "is not one of"),
        ("profile: str = 'a'\nseed: int = 'zero'\n", "expects int"),
        ("seed: int = 0\n", "'profile' is required"),
        ("profile: str = 'a'\nseed: int = 0  # seed, 0 = fixed\n", "contains '='"),
    ]:
        with pytest.raises(ParameterError, match=needle):
            parse_parameters_cell(bad)


def test_claims_validation_and_evaluation(tmp_path):
    path = tmp_path / "c.claims.yaml"
    path.write_text(CLAIMS.replace("source: ours", "source: paper"))
    with pytest.raises(ClaimError, match="source must be"):
        load_claims(path)
    path.write_text(CLAIMS + "  tolerance: 3\n")
    with pytest.raises(ClaimError, match="unknown fields"):
        load_claims(path)
    for check in ("__import__('os').system('true')", "total.real > 0", "open('x')"):
        path.write_text(
            CLAIMS.replace('"total == n * 1.5"', repr(check).replace("'", '"') if '"' not in check else check)
        )
        with pytest.raises(ClaimError):
            load_claims(path)
    claim = Claim("T", "s", "ours", "guarantee", ["smoke"], "a", "max(a) <= 1 and all(x > 0 for x in a)", "e")
    assert evaluate(claim, {"a": [0.5, 1.0]}, "smoke").status == "pass"
    assert evaluate(claim, {"a": [0.5, 2.0]}, "smoke").status == "fail"
    assert evaluate(claim, {"b": 1}, "smoke").status == "error"
    assert evaluate(claim, {"a": [None]}, "smoke").status == "error"  # NaN metrics are written as null
    assert evaluate(claim, {"a": [0.5]}, "default").status == "n/a"


def test_data_checksums(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file.txt").write_text("hello")
    update_manifest(tmp_path)
    assert verify("sub/file.txt", tmp_path).read_text() == "hello"
    (tmp_path / "sub" / "file.txt").write_text("hellO")
    with pytest.raises(ChecksumError, match=r"sub/file.txt is corrupt or changed"):
        verify("sub/file.txt", tmp_path)
    with pytest.raises(ChecksumError, match="not listed"):
        verify("other.txt", tmp_path)
    (tmp_path / "sub" / "file.txt").unlink()
    with pytest.raises(ChecksumError, match="missing"):
        verify("sub/file.txt", tmp_path)


def test_corrupt_shipped_data_stops_a_run_before_it_starts(env, monkeypatch, tmp_path):
    import lsa.runner.execute as execute

    data = tmp_path / "data"
    data.mkdir()
    (data / "table.csv").write_text("a,b\n1,2\n")
    update_manifest(data)
    (data / "table.csv").write_text("a,b\n1,3\n")
    monkeypatch.setattr(execute, "verify_all", functools.partial(verify_all, data))
    with pytest.raises(ChecksumError, match="table.csv is corrupt or changed"):
        execute.run_chapter("tiny", progress=False)
    assert not (tmp_path / "runs").exists()


def test_status_page_lists_every_claim_with_its_outcome():
    from lsa.runner.status_page import render_status_page

    claim = Claim("C1", "a | b", "abstract", "finding", ["smoke"], "x", "x > 1", "x > 1", chapter="ch")
    rows = [evaluate(claim, {"x": 2.0}, "smoke", "k1"), evaluate(claim, {"x": 0.5}, "smoke", "k1")]
    page = render_status_page(rows, "smoke", missing=["other"])
    assert '- **C1** · finding · paper (abstract) · <span class="lsa-badge lsa-status-pass">pass</span>' in page
    assert '- **C1** · finding · paper (abstract) · <span class="lsa-badge lsa-status-fail">fail</span>' in page
    assert "*Measured:* x = 2" in page and "*Measured:* x = 0.5" in page and "a \\| b" in page
    assert "No run available for: other" in page
    assert "findings: 1 borne out, 1 not borne out" in page


def test_archive_keeps_a_run_and_the_page_reevaluates_its_claims(env, monkeypatch):
    from lsa.runner.archive import ArchiveError, archive_run, archived_runs, render_archive_page

    assert lsa("run", "tiny", "--profile", "paper", "-q").returncode == 0  # n = 100: T1 does not apply at paper
    (run,) = good_runs(env)
    prov = json.loads((run / "run.json").read_text())["provenance"]
    assert prov["device"] == "cpu" and prov["python"] == sys.version.split()[0] and "torch" in prov
    # bad input: named, and nothing is written
    bad = lsa("archive", str(env / "runs" / "tiny"))
    assert bad.returncode == 2 and "missing run.json" in bad.stderr
    assert not (env / "results").exists()
    broken = env / "broken"
    broken.mkdir()
    for f in ("run.json", "params.json"):
        (broken / f).write_text((run / f).read_text())
    (broken / "metrics.json").write_text("{not json")
    with pytest.raises(ArchiveError, match="metrics.json"):
        archive_run(broken, root=env)
    assert not (env / "results").exists()
    # archive, then archive again (replaced atomically, one folder)
    out = lsa("archive", str(run), "--provenance", "device=Test GPU")
    assert out.returncode == 0, out.stderr
    dest = archive_run(run, root=env, extra={"device": "Test GPU"})
    assert dest == env / "results" / "paper" / "tiny"
    assert sorted(p.name for p in (env / "results" / "paper").iterdir()) == ["tiny"]
    (a,) = archived_runs(env)
    assert a.params["n"] == 100 and [c.status for c in a.claims] == ["n/a"]
    # the ledger is re-read: a claim that now applies at paper is evaluated against the archived metrics
    (env / "notebooks" / "tiny.claims.yaml").write_text(CLAIMS.replace("[smoke, default]", "[smoke, default, paper]"))
    (a,) = archived_runs(env)
    assert [c.status for c in a.claims] == ["pass"] and "total = 150" in a.claims[0].measured
    page = render_archive_page([a], root=env)
    assert "Device: Test GPU" in page and "`n=100`" in page
    assert '**T1** · guarantee · ours · <span class="lsa-badge lsa-status-pass">pass</span>' in page
    from lsa.runner import REPO_ROOT

    assert not (REPO_ROOT / "results" / "paper" / "tiny").exists()  # tests never write into the repo
