"""Registering each architecture's final model as a version of ``seqbench-<task>`` (pyfunc).

The final model of an architecture is its best-validation seed. It is logged as a pyfunc that
carries its preprocessing (tokenizer or scaler) and registered as a version tagged with the
architecture, its test metrics, the git commit and the data hashes. A version whose bundle
digest already exists is not registered again; nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqbench.errors import SeqbenchError
from seqbench.registry.config import RegisterConfig
from seqbench.registry.pyfunc import (
    MANIFEST,
    SCALER,
    TEXT_COLUMN,
    TOKENIZER_DIR,
    WEIGHTS,
    WINDOW_COLUMN,
)
from seqbench.trained import SeedModel, best_seed, file_sha256

log = logging.getLogger(__name__)

MODEL_CODE = Path(__file__).with_name("model_code.py")
BUNDLE_FORMAT = 2  # bump when the pyfunc's interface changes, so the next run registers anew
TAG_DIGEST = "seqbench.bundle_sha256"
TAG_WEIGHTS = "seqbench.weights_sha256"
TAG_ARCH = "seqbench.arch"
METRIC_TAG = "metric."  # version tags "metric.test/acc" hold the version's own test metrics
MEAN_TAG = "mean."  # "mean.test/acc": the architecture's mean over seeds


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


def make_bundle(
    seed: SeedModel,
    out_dir: Path,
    *,
    tokenized_dir: Path | None = None,
    processed_dir: Path | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Write the serving bundle of ``seed`` into ``out_dir`` (layout: see ``registry.pyfunc``)."""
    out_dir.mkdir(parents=True)
    shutil.copyfile(seed.weights, out_dir / WEIGHTS)
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "kind": seed.kind,
        "task": seed.task,
        "arch": seed.arch,
        "seed": seed.seed,
        "model": seed.info["model"],
        "model_spec": seed.info["model_spec"],
    }
    if seed.kind == "classification":
        if tokenized_dir is None:
            raise RegistryError(f"{seed.task}: a text model needs its tokenized data folder")
        tok = out_dir / TOKENIZER_DIR
        tok.mkdir()
        for name in ("tokenizer.json", "meta.json"):
            if not (tokenized_dir / name).is_file():
                raise RegistryError(f"{tokenized_dir / name}: missing; run the tokenize stage")
            shutil.copyfile(tokenized_dir / name, tok / name)
        classes = seed.info["model_spec"]["num_classes"]
        manifest["labels"] = list(labels or [str(i) for i in range(classes)])
        if len(manifest["labels"]) != classes:
            raise RegistryError(
                f"register.labels.{seed.task}: expected {classes} names, got {manifest['labels']}"
            )
    else:
        if processed_dir is None or not (processed_dir / SCALER).is_file():
            raise RegistryError(f"{processed_dir}/{SCALER}: missing; run the prepare stage")
        shutil.copyfile(processed_dir / SCALER, out_dir / SCALER)
        dataset = seed.info["dataset"]
        manifest |= {
            "features": list(dataset["features"]),
            "targets": list(dataset["targets"]),
            "input_length": int(dataset["window"]["input_length"]),
            "horizon": int(dataset["window"]["horizon"]),
        }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return out_dir


def bundle_digest(bundle: Path) -> str:
    """sha256 over the bundle's files (relative paths and contents), independent of its location."""
    digest = hashlib.sha256()
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        digest.update(path.relative_to(bundle).as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest()


def signature_and_example(bundle: Path, cfg: RegisterConfig, processed_dir: Path | None) -> tuple:
    """The pyfunc's input/output schema and an input example of raw values."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema
    from mlflow.types.schema import AnyType

    manifest = json.loads((bundle / MANIFEST).read_text())
    if manifest["kind"] == "classification":
        outputs = [ColSpec("string", "label"), ColSpec("long", "label_id")]
        outputs += [ColSpec("double", "probability")]
        outputs += [ColSpec("double", f"p_{name}") for name in manifest["labels"]]
        # One unnamed string column: a list of reviews and a DataFrame column `text` both fit.
        signature = ModelSignature(Schema([ColSpec("string")]), Schema(outputs))
        return signature, pd.DataFrame({TEXT_COLUMN: list(cfg.text_examples)})
    features, length = manifest["features"], manifest["input_length"]
    # Any numeric type: MLflow refuses to cast int columns (e.g. vehicle counts) to double.
    inputs = [ColSpec(AnyType(), f) for f in features]
    inputs.append(ColSpec("long", WINDOW_COLUMN, required=False))
    outputs = [ColSpec("long", WINDOW_COLUMN), ColSpec("long", "step")]
    outputs += [ColSpec("double", t) for t in manifest["targets"]]
    example = None
    test = processed_dir / "test.parquet" if processed_dir else None
    if test is not None and test.is_file():
        frame = pd.read_parquet(test, columns=features)
        if len(frame) >= length:
            example = frame.tail(length).astype(np.float64).reset_index(drop=True)
    if example is None:
        example = pd.DataFrame({f: np.zeros(length) for f in features})
    return ModelSignature(Schema(inputs), Schema(outputs)), example


def pip_requirements() -> list[str]:
    """What the pyfunc imports (seqbench itself must be installed where it is served)."""
    from importlib.metadata import version

    names = ("mlflow", "torch", "numpy", "pandas", "tokenizers", "lightning", "scipy")
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


def version_tags(
    seed: SeedModel, mean: dict[str, float], digest: str, provenance: dict[str, str]
) -> dict[str, str]:
    keep = ("seqbench.git_commit", "seqbench.git_dirty", "seqbench.version", "seqbench.data.")
    tags = {k: v for k, v in provenance.items() if k.startswith(keep)}
    tags |= {
        "seqbench.task": seed.task,
        TAG_ARCH: seed.arch,
        "seqbench.seed": str(seed.seed),
        "seqbench.best_val": f"{seed.best_val:.6g}",
        TAG_DIGEST: digest,
        TAG_WEIGHTS: seed.sha256(),
    }
    tags |= {f"{METRIC_TAG}{k}": repr(float(v)) for k, v in seed.test.items()}
    tags |= {f"{MEAN_TAG}{k}": repr(float(v)) for k, v in mean.items() if k.startswith("test/")}
    return tags


def register_arch(
    task: str,
    arch: str,
    cfg: RegisterConfig,
    *,
    models_dir: Path,
    tokenized_dir: Path | None,
    processed_dir: Path | None,
    metrics_file: Path | None = None,
) -> Registered:
    """Log and register the final model of ``task`` × ``arch`` unless its bundle is registered."""
    import mlflow

    from seqbench import tracking

    tracking.configure()
    client = mlflow.MlflowClient()
    name = cfg.model_name(task)
    seed = best_seed(models_dir / f"{task}-{arch}")
    mean: dict[str, float] = {}
    if metrics_file is not None and metrics_file.is_file():
        mean = json.loads(metrics_file.read_text()).get("mean", {})
    with tempfile.TemporaryDirectory(prefix="seqbench-bundle-") as tmp:
        bundle = make_bundle(
            seed,
            Path(tmp) / "bundle",
            tokenized_dir=tokenized_dir,
            processed_dir=processed_dir,
            labels=cfg.labels.get(task),
        )
        digest = bundle_digest(bundle)
        ensure_registered_model(client, name, task)
        existing = find_version(client, name, digest)
        if existing is not None:
            log.info("%s: %s already registered as version %s", name, arch, existing.version)
            return Registered(task, arch, name, str(existing.version), seed.seed, digest, False)
        inputs = [str(models_dir / f"{task}-{arch}")]
        inputs += [str(d) for d in (tokenized_dir, processed_dir) if d is not None and d.exists()]
        provenance = tracking.provenance_tags("register", inputs)
        signature, example = signature_and_example(bundle, cfg, processed_dir)
        run_tags = {**provenance, "seqbench.task": task, TAG_ARCH: arch, TAG_DIGEST: digest}
        with tracking.run(cfg.experiment, f"{task}-{arch}", tags=run_tags):
            mlflow.log_metrics({k: float(v) for k, v in seed.test.items()})
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),
                artifacts={"bundle": str(bundle)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
            )
        version = mlflow.register_model(
            info.model_uri, name, tags=version_tags(seed, mean, digest, provenance)
        )
        client.update_model_version(
            name,
            version.version,
            description=f"{arch}, seed {seed.seed} (best validation {seed.best_val:.4g})",
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
    """Register every ``train.tasks`` × ``train.architectures`` final model; return a summary."""
    from seqbench.training import task_kind

    out = []
    for task in tasks or params["train"]["tasks"]:
        text = task_kind(params, task) == "classification"
        for arch in archs or params["train"]["architectures"]:
            done = register_arch(
                task,
                arch,
                cfg,
                models_dir=models_root,
                tokenized_dir=tokenized_root / task if text else None,
                processed_dir=None if text else processed_root / task,
                metrics_file=metrics_root / f"{task}-{arch}.json",
            )
            out.append(asdict(done))
    return out
