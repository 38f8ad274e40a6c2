"""Every DVC stage's deps cover every seqbench module its script imports, transitively.

A stage whose deps omit a module it imports reports "up to date" after that module changed, with
results the code no longer produces. The imports are read from the source (AST: every ``import``
anywhere in a module, function-level ones included, ``seqbench.x:y`` strings such as the
dataset-kind table's, and every submodule of a package that loads its names lazily through
importlib), never by running it. ``if TYPE_CHECKING:`` imports do not count.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
SCRIPT = re.compile(r"(pipelines/\w+\.py)")
MODULE_STRING = re.compile(r"^(seqbench(?:\.\w+)+)(?::\w+)?$")


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (a package's ``__init__.py``), if it is ours."""
    base = SRC.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (annotations only, never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return skipped


def _absolute(path: Path, node: ast.ImportFrom) -> str | None:
    """The absolute module name of ``from <module> import ...`` (relative ones resolved)."""
    if node.level == 0:
        return node.module
    package = path.relative_to(SRC).with_suffix("").parts[:-1]  # a/b/c.py, a/b/__init__.py: a.b
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imported_modules(path: Path) -> set[str]:
    """Names of the seqbench modules ``path`` imports (with every parent package)."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_blocks(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (module := _absolute(path, node)):
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}  # submodules
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = MODULE_STRING.match(node.value)
            if match:
                names.add(match.group(1))
    if path.name == "__init__.py" and "importlib" in names:  # a package loading names lazily
        package = ".".join(path.relative_to(SRC).parent.parts)
        names |= {f"{package}.{p.stem}" for p in path.parent.glob("*.py")}
    ours = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != "seqbench":
            continue
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if module_file(prefix) is not None:
                ours.add(prefix)
    return ours


def closure(script: Path) -> set[Path]:
    """Every seqbench source file ``script`` imports, directly or through other modules."""
    seen: set[Path] = set()
    todo = [module_file(n) for n in imported_modules(script)]
    while todo:
        path = todo.pop()
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += [module_file(n) for n in imported_modules(path)]
    return seen


def stages(dvc_yaml: Path) -> dict[str, dict]:
    return yaml.safe_load(dvc_yaml.read_text())["stages"]


def stage_body(stage: dict) -> dict:
    return stage.get("do", stage)


def uncovered(stage: dict) -> list[str]:
    """The imported modules of the stage's script that no ``deps`` entry covers."""
    body = stage_body(stage)
    script = SCRIPT.search(body["cmd"])
    assert script, f"no pipelines/*.py script in {body['cmd']!r}"
    deps = [d for d in body.get("deps", []) if "${" not in d]
    needed = {p.relative_to(ROOT).as_posix() for p in closure(ROOT / script.group(1))}
    needed.add(script.group(1))
    return sorted(
        path
        for path in needed
        if not any(path == d.rstrip("/") or path.startswith(d.rstrip("/") + "/") for d in deps)
    )


@pytest.mark.parametrize("name", sorted(stages(ROOT / "dvc.yaml")))
def test_stage_deps_cover_every_module_its_script_imports(name):
    missing = uncovered(stages(ROOT / "dvc.yaml")[name])
    assert not missing, f"dvc.yaml stage {name}: deps miss {', '.join(missing)}"


@pytest.mark.parametrize("name", sorted(stages(ROOT / "dvc.yaml")))
def test_removing_any_code_dep_is_detected(name):
    """Each ``src/`` dep is needed: the check notices its removal (and no dep is superfluous,
    which would re-run the stage for code it never imports)."""
    body = stage_body(stages(ROOT / "dvc.yaml")[name])
    for dep in [d for d in body["deps"] if d.startswith("src/") and "${" not in d]:
        cut = {**body, "deps": [d for d in body["deps"] if d != dep]}
        assert uncovered(cut), f"removing {dep} from {name} went unnoticed"


def test_the_closure_follows_function_level_imports_and_the_kind_table():
    files = {p.relative_to(SRC).as_posix() for p in closure(ROOT / "pipelines" / "prepare.py")}
    assert "seqbench/data/text_archive.py" in files  # named by a string in data/kinds.py
    assert "seqbench/typed.py" in files
    files = {p.relative_to(SRC).as_posix() for p in closure(ROOT / "pipelines" / "train.py")}
    assert "seqbench/tracking/runs.py" in files  # imported inside train_all_seeds


def test_train_and_tune_stages_depend_on_their_own_tasks_data_only():
    # re-tokenizing IMDB must not re-run (or, on a fresh clone, first build) the series stages
    all_stages = stages(ROOT / "dvc.yaml")
    for group in ("text", "series"):
        for step in ("tune", "train"):
            deps = stage_body(all_stages[f"{step}_{group}"])["deps"]
            shared = [d for d in deps if d.startswith(("data/", "reports/")) and "${item." not in d]
            assert not shared, f"{step}_{group} depends on {shared}"
    series = stage_body(all_stages["train_series"])["deps"]
    assert not [d for d in series if d.startswith("data/tokenized")]


def test_learning_curve_plots_draw_one_line_per_seed_beside_the_monitored_metric(tmp_path):
    """Every train stage's curves use the seed template; DVC fills it with every CSV column, so
    the template reaches the metric early stopping watched through the ``monitor`` column."""
    import json
    import subprocess
    import sys

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    train = [s for name, s in stages.items() if name.startswith("train_")]
    assert train
    for stage in train:
        ((path, props),) = [next(iter(p.items())) for p in stage["plots"]]
        assert path.startswith("plots/curves/") and props["x"] == "epoch"
        assert props["template"] == "plots/templates/seed_curves.json"
    template = (ROOT / "plots/templates/seed_curves.json").read_text()
    assert "datum[datum.monitor]" in template and "'seed ' + datum.seed" in template

    repo = tmp_path / "repo"
    (repo / "plots" / "templates").mkdir(parents=True)
    (repo / "plots/templates/seed_curves.json").write_text(template)
    (repo / "plots/c.csv").write_text("seed,epoch,monitor,val/acc,val/loss\n0,0,val/acc,0.6,0.7\n")
    plot = {"cache": False, "template": "plots/templates/seed_curves.json", "x": "epoch"}
    stage = {"cmd": "true", "plots": [{"plots/c.csv": {**plot, "y": "val/loss"}}]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"t": stage}}))
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*dvc, "init", "-q"], cwd=repo, check=True)
    done = subprocess.run(
        [*dvc, "plots", "show", "--json"], cwd=repo, capture_output=True, text=True, check=True
    )
    (content,) = [p["content"] for p in json.loads(done.stdout)["data"]["plots/c.csv"]]
    assert content["facet"]["column"]["field"] == "curve"
    (row,) = content["data"]["values"]
    assert row["monitor"] == "val/acc" and row["val/acc"] == "0.6" and row["seed"] == "0"


@pytest.mark.parametrize("name", sorted(stages(ROOT / "dvc.yaml")))
def test_every_param_a_stage_names_is_in_params_yaml(name):
    """DVC refuses a stage whose ``params`` entry is missing from params.yaml (a dataclass
    default is not enough): every plain dotted key must be written there."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for entry in stage_body(stages(ROOT / "dvc.yaml")[name]).get("params", []):
        if not isinstance(entry, str) or "${" in entry:
            continue  # a templated key (train.${item.task}) is checked by DVC per item
        node = params
        for part in entry.split("."):
            assert isinstance(node, dict) and part in node, f"{name}: params.yaml has no {entry}"
            node = node[part]
