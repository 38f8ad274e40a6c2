"""The data a run read, as MLflow dataset inputs (the runs table's Dataset column).

Each split file of a stage's input folder (``data/processed/pems/train.parquet``,
``data/tokenized/imdb/val.npz``) is one dataset: named ``<task>/<split>``, its source the DVC
path, its digest the md5 DVC records for that file, tagged with the folder's DVC hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seqbench.io import SPLITS
from seqbench.tracking.provenance import DVC_LOCK, dvc_lock_outs, dvc_md5, relative_path

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}  # MLflow's input context
TAG_DVC_OUT = "seqbench.dvc_out"  # the DVC output (folder) the split file belongs to
TAG_DVC_OUT_MD5 = "seqbench.dvc_out_md5"


@dataclass(frozen=True)
class SplitFile:
    """One split of a stage's input folder, as logged."""

    name: str  # <task>/<split>
    split: str
    source: str  # the file's path relative to the project root (as DVC names it)
    digest: str  # md5 of its bytes: the hash DVC records for it inside the folder's .dir
    folder: str
    folder_md5: str  # the folder's hash in dvc.lock (computed if it is not there)


def split_files(task: str, data_dir: str | Path, root: str | Path | None = None) -> list[SplitFile]:
    """The ``<split>.<ext>`` files of ``data_dir`` in split order (absent splits skipped)."""
    root = Path(root) if root is not None else Path.cwd()
    data_dir = Path(data_dir)
    folder = relative_path(data_dir, root)
    folder_md5 = dvc_lock_outs(root / DVC_LOCK).get(folder) or dvc_md5(root / folder)
    out = []
    for split in SPLITS:
        found = sorted(p for p in (root / folder).glob(f"{split}.*") if p.is_file())
        if found:
            path = found[0]
            out.append(
                SplitFile(
                    f"{task}/{split}",
                    split,
                    relative_path(path, root),
                    dvc_md5(path),
                    folder,
                    folder_md5,
                )
            )
    return out


def log_datasets(
    task: str, data_dir: str | Path, root: str | Path | None = None
) -> list[SplitFile]:
    """Log every split file of ``data_dir`` as a dataset input of the active run."""
    import mlflow
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource

    files = split_files(task, data_dir, root)
    for f in files:
        dataset = MetaDataset(LocalArtifactDatasetSource(f.source), name=f.name, digest=f.digest)
        tags = {TAG_DVC_OUT: f.folder, TAG_DVC_OUT_MD5: f.folder_md5}
        mlflow.log_input(dataset, context=CONTEXTS[f.split], tags=tags)
    return files
