"""``lsa sweep``: grid parsing and expansion, the seed interval, and one real sweep with failing grid points."""

import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest
from test_engine import CHAPTER

from lsa.runner.params import ParameterError
from lsa.runner.sweep import expand, parse_grid, seed_interval

CLAIMS = """- id: T1
  statement: "one thread per kernel"
  source: ours
  kind: guarantee
  profiles: [smoke, default]
  measured: torch_threads
  check: "torch_threads == 1"
  expected: "1"
"""


@pytest.fixture
def layout(tmp_path, monkeypatch):
    nb = tmp_path / "notebooks"
    nb.mkdir()
    (nb / "one.py").write_text(CHAPTER.format(name="one"))
    (nb / "one.claims.yaml").write_text(CLAIMS)
    monkeypatch.setenv("LSA_NOTEBOOKS_DIR", str(nb))
    monkeypatch.setenv("LSA_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def test_grid_is_typed_checked_and_expanded_with_seeds_innermost(layout):
    grid = parse_grid("one", {"sleep": "[0.5, 1]", "fail": "false"})
    assert grid == {"sleep": [0.5, 1.0], "fail": [False]}
    assert parse_grid("one", {"sleep": "0.1,0.2"}) == {"sleep": [0.1, 0.2]}  # brackets optional
    points = expand(grid, seeds=2)
    assert points == [
        {"sleep": 0.5, "fail": False, "seed": 0},
        {"sleep": 0.5, "fail": False, "seed": 1},
        {"sleep": 1.0, "fail": False, "seed": 0},
        {"sleep": 1.0, "fail": False, "seed": 1},
    ]
    for items, needle in [
        ({"nosuch": "[1]"}, "unknown parameter"),
        ({"sleep": "[0.5, 'x']"}, "expects float"),
        ({"profile": "[smoke]"}, "--profile"),
    ]:
        with pytest.raises(ParameterError, match=needle):
            parse_grid("one", items)
    with pytest.raises(ParameterError, match="not both"):
        expand({"seed": [1, 2]}, seeds=2)
    with pytest.raises(ParameterError, match="at least 1"):
        expand({}, seeds=0)


def test_seed_interval_is_the_student_t_interval():
    m, lo, hi, n = seed_interval([0.0, 2.0])
    # n = 2: mean 1, s = sqrt(2), t(0.975, 1) = 12.7062...: half width = t * s / sqrt(2) = t
    assert (m, n) == (1.0, 2) and math.isclose(hi - m, 12.706204736, rel_tol=1e-8) and math.isclose(m - lo, hi - m)
    assert seed_interval([3.0, None, float("nan")]) == (3.0, 3.0, 3.0, 1)  # failed / NaN seeds are not values
    assert seed_interval([])[3] == 0


def test_a_sweep_with_failing_points_keeps_them_in_the_table(layout):
    env = {**os.environ}
    cmd = [sys.executable, "-m", "lsa.cli", "sweep", "one", "-p", "fail=[false,true]", "-p", "sleep=[0.2]"]
    cmd += ["--seeds", "2", "--profile", "smoke", "-j", "2", "--metric", "torch_threads"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert out.returncode == 1, out.stderr
    assert "lsa: failed: " in out.stderr and out.stderr.count("deliberate failure of one") == 2
    (folder,) = (layout / "runs" / "sweeps").iterdir()
    table = pd.read_csv(folder / "table.csv")
    assert len(table) == 4 and sorted(table["status"]) == ["failed", "failed", "ok", "ok"]
    ok = table[table["status"] == "ok"]
    assert list(ok["fail"]) == [False, False] and sorted(ok["seed"]) == [0, 1]
    assert list(ok["metric:torch_threads"]) == [1, 1] and list(ok["claim:T1"]) == ["pass", "pass"]
    assert table[table["status"] == "failed"]["error"].str.contains("deliberate failure").all()
    parquet = pd.read_parquet(folder / "table.parquet")
    assert list(parquet.columns) == list(table.columns) and len(parquet) == 4
    assert (folder / "figures" / "torch_threads.png").stat().st_size > 0
    assert json.loads((folder / "sweep.json").read_text())["runs"] == 4
    # sweep runs never move the chapter's own latest pointer
    assert not list((layout / "runs" / "one").glob("latest-*.json"))


SEEDED = """# %% [markdown]
# # Seeded

# %% tags=["profiles"]
PROFILES = {"smoke": {}, "default": {}, "paper": {}}

# %% tags=["parameters"]
profile: str = "default"  # profile
seed: int = 0  # seed

# %%
import lsa

if seed == 3:
    raise RuntimeError("seed 3 fails")
lsa.write_metrics({"x": 0.5 * seed})
"""

SEEDED_CLAIMS = """- id: F1
  statement: "x exceeds 0.4"
  source: ours
  kind: finding
  profiles: [smoke]
  measured: x
  check: "x > 0.4"
  expected: "x > 0.4"
  over_seeds: 4
"""


def test_a_finding_over_seeds_counts_seeds_keeps_failed_ones_and_gives_a_t_interval(layout):
    from lsa.runner.claims import ClaimError, load_claims
    from lsa.runner.engine import run_jobs
    from lsa.runner.seeds import seed_findings_section, seed_jobs, seed_summaries

    nb = layout / "notebooks"
    (nb / "s.py").write_text(SEEDED)
    (nb / "s.claims.yaml").write_text(SEEDED_CLAIMS)
    assert [j.overrides for j in seed_jobs("s", "smoke")] == [(("seed", s),) for s in range(4)]
    assert seed_jobs("s", "default") == []  # the finding does not apply at default
    outcomes = run_jobs(seed_jobs("s", "smoke"), n_jobs=2, raise_on_failure=False, log=lambda m: None)
    assert [o.ok for o in outcomes] == [True, True, True, False]
    (s,) = seed_summaries("s", "smoke")
    assert s.statuses == {0: "fail", 1: "pass", 2: "pass", 3: "run failed"}
    assert (s.holds, s.n) == (2, 4) and s.values == {0: 0.0, 1: 0.5, 2: 1.0}
    # mean 0.5, sd 0.5, n = 3: half width t(0.975, 2) * 0.5 / sqrt(3) = 4.302653 * 0.288675 = 1.242069
    section = "\n".join(seed_findings_section(["s"], "smoke"))
    assert "| s | F1 | x exceeds 0.4 | 2 of 4 | x = 0.5 [-0.7421, 1.742] (n = 3) | 0: fail, 3: run failed |" in section
    assert not list((layout / "runs" / "s").glob("latest-*.json"))
    # seed_value: the quantity summarised over seeds is an expression over the metrics (e.g. a list's minimum)
    (nb / "s.claims.yaml").write_text(SEEDED_CLAIMS + '  seed_value: "min([2 * x, 1.5])"\n')
    (s,) = seed_summaries("s", "smoke")
    assert s.values == {0: 0.0, 1: 1.0, 2: 1.5} and s.statuses[3] == "run failed"
    assert "| min([2 * x, 1.5]) = 0.8333 [" in "\n".join(seed_findings_section(["s"], "smoke"))
    (nb / "s.claims.yaml").write_text(SEEDED_CLAIMS.replace("  over_seeds: 4\n", '  seed_value: "x"\n'))
    with pytest.raises(ClaimError, match="seed_value needs over_seeds"):
        load_claims(nb / "s.claims.yaml")
    for bad in ("kind: finding\n  over_seeds: 1", "kind: guarantee\n  over_seeds: 3"):
        (nb / "s.claims.yaml").write_text(SEEDED_CLAIMS.replace("kind: finding", bad).replace("  over_seeds: 4\n", ""))
        with pytest.raises(ClaimError, match="over_seeds must be an integer >= 2 on a finding"):
            load_claims(nb / "s.claims.yaml")


def test_declared_sweep_renders_a_page_with_intervals_claim_counts_and_figures(layout):
    from lsa.runner.sweep_pages import write_sweep_pages

    (layout / "notebooks" / "sweeps.yaml").write_text(
        "- name: tiny-sweep\n  chapter: one\n  profile: smoke\n  title: 'Sweep: one over sleep'\n"
        "  about: 'Why: a test.'\n  params: {sleep: [0.1, 0.2]}\n  seeds: 2\n  metrics: [torch_threads]\n"
    )
    (page,) = write_sweep_pages(layout, engine={"n_jobs": 2}, execute=False, log=lambda m: None)
    assert "4 run(s) of this sweep are missing" in page.read_text()
    (page,) = write_sweep_pages(layout, engine={"n_jobs": 2}, log=lambda m: None)
    text = page.read_text()
    assert text.startswith("# Sweep: one over sleep") and "Why: a test." in text
    assert "| 0.1 | 1 [1, 1] (2) | 2 of 2 hold | 0 |" in text and "| 0.2 | 1 [1, 1] (2) | 2 of 2 hold | 0 |" in text
    assert "4 runs, 4 complete, 0 failed or missing" in text
    assert (page.parent / "tiny-sweep" / "torch_threads.png").is_file() and "(tiny-sweep/torch_threads.png)" in text


def test_every_declared_sweep_of_the_book_is_valid_and_in_the_table_of_contents():
    import yaml

    from lsa.runner import REPO_ROOT
    from lsa.runner.sweep_pages import declared_sweeps, sweep_jobs

    toc = (REPO_ROOT / "_toc.yml").read_text()
    specs = declared_sweeps(REPO_ROOT / "notebooks")
    assert specs, "the book declares at least one sweep"
    for spec in specs:
        assert f"file: book/sweeps/{spec.name}\n" in toc
        assert len(sweep_jobs(spec)) >= 2  # the grid validates against the chapter's parameters
    assert yaml.safe_load(toc)
