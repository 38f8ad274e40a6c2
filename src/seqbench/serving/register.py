"""Registering each architecture's final model as a version of ``seqbench-<task>`` (pyfunc).

The final model of an architecture is its best-validation seed. It is logged as a pyfunc that
carries its preprocessing (tokenizer or scaler) into that seed's training run (found by the
weights' sha256), and registered from there, so a version's source run is its training run.
Its tags are the architecture, seed, commit, bundle digest and its own metrics; the selection
rule and means over seeds are in its description. A version whose bundle digest already exists
is not registered again; nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.data.kinds import input_folder, task_architectures, train_tasks
from seqbench.errors import SeqbenchError
from seqbench.io import file_sha256
from seqbench.serving.config import RegisterConfig
from seqbench.tasks.base import Column
from seqbench.tasks.predictors import ESTIMATOR, MANIFEST, WEIGHTS
from seqbench.training.outputs import TAG_WEIGHTS, SeedModel, best_seed, load_seeds
from seqbench.training.seeds import log_saved_seed

log = logging.getLogger(__name__)

MODEL_CODE = Path(__file__).with_name("model_code.py")
BUNDLE_FORMAT = 3  # bump when the pyfunc's interface changes, so the next run registers anew
TAG_DIGEST = "seqbench.bundle_sha256"
TAG_ARCH = "seqbench.arch"
METRIC_TAG = "metric."  # version tags "metric.test/acc" hold the version's own test metrics


class RegistryError(SeqbenchError):
    """Registering or loading a registered model failed for a reason a user can fix."""


@dataclass(frozen=True)
class Registered:
    """The outcome of registering one architecture of one task."""

    task: str
    arch: str
    name: str
    version: str
    seed: int
    digest: str
    created: bool  # False: a version with the same bundle digest already existed


def make_bundle(seed: SeedModel, out_dir: Path, *, data_dir: Path | None) -> Path:
    """Write the serving bundle of ``seed`` into ``out_dir`` (layout: ``tasks.predictors``);
    ``data_dir`` is the task's training input, whose preprocessing state the task copies."""
    out_dir.mkdir(parents=True)
    shutil.copyfile(seed.weights, out_dir / (WEIGHTS if seed.format == "pt" else ESTIMATOR))
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "model_format": seed.format,
        "kind": seed.kind.name,
        "task": seed.task,
        "arch": seed.arch,
        "seed": seed.seed,
        "model": seed.info["model"],
        "model_spec": seed.info["model_spec"],
    }
    manifest |= seed.kind.write_bundle(seed, out_dir, data_dir)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out_dir


def bundle_from_files(
    models_dir: Path, out_dir: Path, data_dir_of: Callable[[str], Path | None]
) -> Path:
    """The bundle ``register`` would log for the trained folder ``models_dir``
    (``models/<task>-<arch>``): its final (best-validation) seed, with the preprocessing of
    ``data_dir_of(arch)``. What a registered version serves, from the DVC-tracked files alone."""
    seed = best_seed(models_dir)
    return make_bundle(seed, out_dir, data_dir=data_dir_of(seed.arch))


def bundle_digest(bundle: Path) -> str:
    """sha256 over the bundle's files (relative paths and contents), independent of its location."""
    digest = hashlib.sha256()
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        digest.update(path.relative_to(bundle).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def _colspec(column: Column) -> Any:
    from mlflow.types import ColSpec
    from mlflow.types.schema import AnyType

    kind = AnyType() if column.type == "any" else column.type
    return ColSpec(kind, column.name, required=column.required)


def signature_and_example(
    bundle: Path, cfg: RegisterConfig, data_dir: Path | None
) -> tuple[Any, pd.DataFrame]:
    """The pyfunc's input/output schema and an input example of raw values (the task's)."""
    from mlflow.models import ModelSignature
    from mlflow.types import Schema

    from seqbench.tasks import get_task

    manifest = json.loads((bundle / MANIFEST).read_text())
    schema = get_task(manifest["kind"]).serving_schema(manifest, cfg, data_dir)
    signature = ModelSignature(
        Schema([_colspec(c) for c in schema.inputs]), Schema([_colspec(c) for c in schema.outputs])
    )
    return signature, schema.example


TAG_ENCODER = "seqbench.encoder"  # the pre-trained weights' source (hub name, folder, package)
TAG_ENCODER_SHA256 = "seqbench.encoder_sha256"


def pip_requirements() -> list[str]:
    """What the pyfunc imports (seqbench itself must be installed where it is served)."""
    from importlib.metadata import version

    names = (
        "mlflow", "torch", "numpy", "pandas", "tokenizers", "lightning", "scipy", "scikit-learn",
        "joblib", "transformers",
    )  # fmt: skip
    return [f"{n}=={version(n).split('+')[0]}" for n in names]


def find_version(client: Any, name: str, digest: str) -> Any | None:
    """The existing version of ``name`` whose bundle digest is ``digest``, if any."""
    for mv in client.search_model_versions(f"name = '{name}'"):
        if mv.tags.get(TAG_DIGEST) == digest:
            return mv
    return None


def ensure_registered_model(client: Any, name: str, task: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        try:
            client.create_registered_model(
                name,
                tags={"seqbench.task": task},
                description=f"seqbench final models for task {task}: one version per "
                "architecture (best seed by validation), raw inputs in.",
            )
        except MlflowException:  # created meanwhile by another process
            client.get_registered_model(name)


def version_tags(seed: SeedModel, digest: str, commit: str) -> dict[str, str]:
    """The few tags a registry user reads: what the version is, where its code is, its own
    validation and test numbers (``metric.<name>``; promotion ranks by them)."""
    tags = {
        TAG_ARCH: seed.arch,
        "seqbench.seed": str(seed.seed),
        "seqbench.git_commit": commit,
        TAG_DIGEST: digest,
        f"{METRIC_TAG}{seed.monitor}": repr(seed.best_val),
    }
    tags |= {f"{METRIC_TAG}{k}": repr(float(v)) for k, v in seed.test.items()}
    return tags | encoder_tags(seed.info.get("model_spec") or {})


def encoder_tags(model_spec: dict[str, Any]) -> dict[str, str]:
    """Provenance of a pre-trained encoder's weights (none for a model trained from scratch):
    where they were loaded from and the sha256 of the weight file."""
    if not model_spec.get("encoder"):
        return {}
    return {
        TAG_ENCODER: str(model_spec["encoder"]),
        TAG_ENCODER_SHA256: str(
            model_spec.get("encoder_sha256") or "unknown (weights not in the hub cache)"
        ),
    }


def version_description(
    seed: SeedModel, seeds: list[int], mean: dict[str, float], digest: str, run: Any | None
) -> str:
    """Registration-time facts in words: the selection rule, the architecture's means over
    seeds, the bundle and the training run."""
    rule = f"{'highest' if seed.mode == 'max' else 'lowest'} {seed.monitor}"
    means = ", ".join(f"{k} {v:.4g}" for k, v in sorted(mean.items()) if k.startswith("test/"))
    where = (
        f"training run {run.info.run_id} (experiment {run.info.experiment_id})"
        if run is not None
        else "no training run in this tracking store (trained untracked or elsewhere)"
    )
    return (
        f"{seed.arch}, seed {seed.seed}: the seed with the {rule} ({seed.best_val:.4g}) of seeds "
        f"{', '.join(map(str, seeds))}. Mean over seeds: {means or 'n/a'}. Serving bundle "
        f"sha256 {digest[:16]}… (tokenizer or scaler included, raw inputs in). From {where}."
    )


def training_run(client: Any, seed: SeedModel) -> Any | None:
    """The run that trained ``seed``: the latest finished run of its task, architecture and
    seed whose ``seqbench.weights_sha256`` tag is the saved weights' digest (any experiment)."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return None
    query = (
        f"tags.`{TAG_WEIGHTS}` = '{seed.sha256()}' and tags.`{TAG_ARCH}` = '{seed.arch}' "
        f"and tags.`seqbench.seed` = '{seed.seed}' and tags.`seqbench.stage` LIKE 'train%' "
        "and attributes.status = 'FINISHED'"
    )
    runs = client.search_runs(
        experiments, query, order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0] if runs else None


def _test_step(client: Any, run_id: str, metrics: dict[str, float]) -> int:
    """The step the training run logged its test metrics at (its epoch count)."""
    for key in metrics:
        history = client.get_metric_history(run_id, key)
        if history:
            return int(history[-1].step)
    return 0


def log_serving_model(
    client: Any,
    seed: SeedModel,
    bundle: Path,
    cfg: RegisterConfig,
    data_dir: Path | None,
    *,
    run: Any | None,
    tags: dict[str, str],
) -> Any:
    """Log the pyfunc ``<task>-<arch>-s<seed>`` (raw inputs in) as a model of the training
    ``run`` (which stays as it ended), its test metrics linked to it; without a training run,
    into a run of ``cfg.experiment``. Returns MLflow's ModelInfo."""
    import mlflow

    from seqbench import tracking

    signature, example = signature_and_example(bundle, cfg, data_dir)
    name = f"{seed.task}-{seed.arch}-s{seed.seed}"
    kwargs = dict(
        name=name,
        python_model=str(MODEL_CODE),
        artifacts={"bundle": str(bundle)},
        signature=signature,
        input_example=example,
        pip_requirements=pip_requirements(),
    )
    if run is not None:
        logged = mlflow.initialize_logged_model(
            name=name,
            source_run_id=run.info.run_id,
            experiment_id=run.info.experiment_id,
            tags=tags,
        )
        info = mlflow.pyfunc.log_model(model_id=logged.model_id, **kwargs)
        step = _test_step(client, run.info.run_id, seed.test)
        mlflow.log_metrics(seed.test, step=step, run_id=run.info.run_id, model_id=logged.model_id)
        return info
    log.warning("%s: no training run with these weights in this store; logging it alone", name)
    inputs = [str(seed.directory)] + ([str(data_dir)] if data_dir is not None else [])
    run_tags = {**tracking.provenance_tags("register", inputs), **tags}
    description = (
        "Serving models whose training run is not in this tracking store (trained untracked "
        "or elsewhere); models trained here are logged into their training runs instead."
    )
    with tracking.run(
        cfg.experiment, f"{name}-untracked", tags=run_tags, description=description
    ) as active:
        info = mlflow.pyfunc.log_model(**kwargs)
        mlflow.log_metrics(seed.test, model_id=info.model_id)
        log_saved_seed(client, active.info.run_id, seed)
    return info


def register_arch(
    task: str,
    arch: str,
    cfg: RegisterConfig,
    *,
    models_dir: Path,
    data_dir: Path | None,
    metrics_file: Path | None = None,
) -> Registered:
    """Log and register the final model of ``task`` × ``arch`` unless its bundle is registered.

    The version is created from a model logged in the chosen seed's training run, so the
    registry's "Source Run" is that run: its params, curves, datasets and provenance.
    """
    import mlflow

    from seqbench import tracking

    tracking.configure()
    client = mlflow.MlflowClient()
    name = cfg.model_name(task)
    seeds = load_seeds(models_dir / f"{task}-{arch}")
    seed = best_seed(models_dir / f"{task}-{arch}")
    mean: dict[str, float] = {}
    if metrics_file is not None and metrics_file.is_file():
        mean = json.loads(metrics_file.read_text()).get("mean", {})
    with tempfile.TemporaryDirectory(prefix="seqbench-bundle-") as tmp:
        bundle = make_bundle(seed, Path(tmp) / "bundle", data_dir=data_dir)
        digest = bundle_digest(bundle)
        ensure_registered_model(client, name, task)
        existing = find_version(client, name, digest)
        if existing is not None:
            log.info("%s: %s already registered as version %s", name, arch, existing.version)
            return Registered(task, arch, name, str(existing.version), seed.seed, digest, False)
        run = training_run(client, seed)
        commit = (
            run.data.tags.get("seqbench.git_commit") if run is not None else None
        ) or tracking.git_commit()
        tags = version_tags(seed, digest, commit)
        info = log_serving_model(client, seed, bundle, cfg, data_dir, run=run, tags=tags)
        version = mlflow.register_model(info.model_uri, name, tags=tags)
        client.update_model_version(
            name,
            version.version,
            description=version_description(seed, [s.seed for s in seeds], mean, digest, run),
        )
    log.info("%s: registered %s as version %s", name, arch, version.version)
    return Registered(task, arch, name, str(version.version), seed.seed, digest, True)


def register_all(
    params: dict[str, Any],
    cfg: RegisterConfig,
    *,
    models_root: Path,
    tokenized_root: Path,
    processed_root: Path,
    metrics_root: Path,
    tasks: list[str] | None = None,
    archs: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Register every task × architecture's final model; return a summary."""
    roots = {"tokenized": tokenized_root, "processed": processed_root}
    out = []
    for task in tasks or train_tasks(params):
        for arch in archs or task_architectures(params, task):
            folder, name = input_folder(params, task, arch)
            data_dir = roots[folder] / name
            done = register_arch(
                task,
                arch,
                cfg,
                models_dir=models_root,
                data_dir=data_dir,
                metrics_file=metrics_root / f"{task}-{arch}.json",
            )
            out.append(asdict(done))
    return out
