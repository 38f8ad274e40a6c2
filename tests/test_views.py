"""What users open, checked in headless Chromium with the network off except 127.0.0.1.

The offline views (``seqbench views``) must show their content with no CDN: the DVC plots page
draws its curves, the Data Docs index lists its validations (named after stage and commit); the
MLflow UI, served from 127.0.0.1, lists a run. Chromium is Debian's ``chromium`` (.ci/run installs
it); the vendored JavaScript comes from the npm registry, as ``make views`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from seqbench.tracking.postgres import free_port
from seqbench.views import build_views, remote_loads

pytestmark = pytest.mark.slow  # installs npm packages, starts Chromium and an MLflow server

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CURVES = "seed,epoch,monitor,val/loss,val/mae\n" + "".join(
    f"{s},{e},val/mae,{1 / (e + 1) + s / 10},{5 - e + s}\n" for s in (0, 1) for e in range(3)
)


def dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium that can reach 127.0.0.1 only."""
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (.ci/run does)")
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=127.0.0.1:9",  # anything not on loopback goes to a closed port
        "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom", url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned packages of views/package-lock.json, installed as `make views` does."""
    folder = tmp_path_factory.mktemp("views-npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(ROOT / "views" / name, folder / name)
    npm = ["npm", "ci", "--prefix", str(folder), "--no-audit", "--no-fund", "--ignore-scripts"]
    subprocess.run(npm, check=True, capture_output=True, timeout=600)
    return folder / "node_modules"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC project with one train stage's curves and one dataset's Data Docs."""
    import great_expectations as gx

    from seqbench.validation.core import Check, validate_frames

    repo = tmp_path_factory.mktemp("project")
    (repo / "plots" / "templates").mkdir(parents=True)
    shutil.copyfile(
        ROOT / "plots/templates/seed_curves.json", repo / "plots/templates/seed_curves.json"
    )
    (repo / "plots" / "toy-gru.csv").write_text(CURVES)
    plot = {"cache": False, "template": "plots/templates/seed_curves.json", "x": "epoch"}
    stage = {"cmd": "true", "plots": [{"plots/toy-gru.csv": {**plot, "y": "val/loss"}}]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": stage}}))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=repo, check=True)
    frames = {"train": pd.DataFrame({"a": [1.0, 2.0]}), "val": pd.DataFrame({"a": [3.0]})}
    checks = [Check(gx.expectations.ExpectColumnValuesToNotBeNull(column="a"), split=s)
              for s in frames]  # fmt: skip
    validate_frames(
        "toy", frames, checks, repo / "reports/validation/toy", run_name="validate@toy @ abc123"
    )
    return repo


def test_the_offline_views_show_their_content_with_no_network(project, node_modules, tmp_path):
    index = build_views(project, tmp_path / "views", node_modules=node_modules)
    pages = list(index.parent.rglob("*.html"))
    assert len(pages) > 3 and not [p for p in pages if remote_loads(p.read_text())]
    assert "data_docs/toy/index.html" in index.read_text()

    plots = dom((index.parent / "dvc_plots" / "index.html").as_uri(), tmp_path / "c1")
    drawn = re.findall(r'<canvas width="(\d+)" height="(\d+)" class="marks"', plots)
    assert any(int(w) > 100 and int(h) > 100 for w, h in drawn), drawn  # Vega drew the curves

    docs_index = index.parent / "data_docs" / "toy" / "index.html"
    docs = dom(docs_index.as_uri(), tmp_path / "c2")
    assert docs.count('class="clickable-row"') >= 2  # the train and val validations are listed
    assert "validate@toy @ abc123" in docs and "__none__" not in docs
    # the page GX wrote, which loads its table code from CDNs, lists nothing offline
    original = project / "reports/validation/toy/data_docs/index.html"
    assert 'class="clickable-row"' not in dom(original.as_uri(), tmp_path / "c3")


def test_the_mlflow_ui_lists_the_runs_with_no_network(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("toy", artifact_location=(tmp_path / "a").as_uri())
    run = client.create_run(experiment, run_name="toy-gru-s0")
    client.set_terminated(run.info.run_id)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(1)
        # the runs are under "Model training", at .../runs (MLflow 3 opens on a GenAI overview)
        page = dom(f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs", tmp_path / "c")
        assert "toy-gru-s0" in page and "Model training" in page
    finally:  # the server and its workers: one process group
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
