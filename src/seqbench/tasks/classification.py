"""Sequence classification (text): token ids in, class logits out; McNemar's paired test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqbench.tasks.base import BundleError, Column, ServingSchema, Task

if TYPE_CHECKING:
    import numpy as np
    import torch

    from seqbench.models import ClassificationSpec
    from seqbench.stats import PairedTest
    from seqbench.tasks.base import RawTexts
    from seqbench.tasks.modules import ClassificationModule
    from seqbench.tasks.predictions import PredictionRecorder
    from seqbench.tasks.predictors import TextPredictor
    from seqbench.training.outputs import SeedModel
    from seqbench.training.run import RunConfig


class Classification(Task):
    """Batches ``(ids (B, T), lengths (B,), labels (B,))`` from a tokenized folder; the network
    returns logits ``(B, C)``. Saved test predictions: ``labels`` (N,), ``probs`` (N, C)."""

    name = "classification"
    losses = ("cross_entropy",)
    unit = "tokens"

    def datamodule(self, spec: RunConfig, seed: int) -> Any:
        from seqbench.data.text import TextDataModule

        cfg = spec.train
        return TextDataModule(
            spec.data_dir,
            cfg.batch_size,
            seed,
            fraction=cfg.fraction,
            train_share=cfg.train_share,
            eval_batch_size=cfg.eval_batch_size,
            bucketing=cfg.bucketing,
            bucket_chunk=cfg.bucket_chunk,
            num_workers=cfg.num_workers,
        )

    def model_spec(self, spec: RunConfig, dm: Any) -> ClassificationSpec:
        from seqbench.models import ARCHITECTURES, ClassificationSpec

        label_tokens: tuple[tuple[int, ...], ...] = ()
        if ARCHITECTURES[spec.model.arch].text_to_text:
            label_tokens = _label_tokens(spec.task.labels, dm.data_dir, dm.meta)
        return ClassificationSpec(
            vocab_size=dm.vocab_size,
            num_classes=spec.task.num_classes,
            pad_id=dm.pad_id,
            label_tokens=label_tokens,
            encoder=dm.meta.get("encoder"),  # tokenized for a pre-trained encoder
            encoder_sha256=dm.meta.get("encoder_sha256"),
        )

    def load_model_spec(self, dims: dict[str, Any]) -> ClassificationSpec:
        from seqbench.models import ClassificationSpec

        tokens = tuple(tuple(t) for t in dims.get("label_tokens", ()))
        return ClassificationSpec(**(dims | {"label_tokens": tokens}))

    def module(self, spec: RunConfig, model: Any, dm: Any) -> ClassificationModule:
        from seqbench.tasks.modules import ClassificationModule

        return ClassificationModule(model, spec.task, spec.optim)

    def input_example(self, batch: tuple[Any, ...]) -> Any:
        ids, lengths, _labels = batch
        return ids[:2].cpu(), lengths[:2].cpu()

    def raw_texts(self, spec: RunConfig, seed: int = 0) -> dict[str, RawTexts]:
        """The prepared reviews of every split, subset as the neural rows' are (``fraction``,
        and ``train_share`` drawn with ``seed``), with their row numbers in the split."""
        import numpy as np

        from seqbench.data.subset import split_index
        from seqbench.io import load_splits

        out = {}
        for split, frame in load_splits(spec.processed_dir).items():
            cfg = spec.train
            index = split_index(len(frame), split, cfg.fraction, cfg.train_share, seed)
            if index is None:
                index = np.arange(len(frame))
            frame = frame.iloc[index]
            labels = frame["label"].to_numpy(dtype=np.int64)
            out[split] = (frame["text"].tolist(), labels, index.astype(np.int64))
        return out

    def recorder(self) -> PredictionRecorder:
        from seqbench.tasks.predictions import PredictionRecorder

        return PredictionRecorder(_record)

    def paired_test(
        self, metric: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray], exact_below: int
    ) -> PairedTest:
        from seqbench.stats import mcnemar_predictions

        correct_a = a["probs"].argmax(-1) == a["labels"]
        correct_b = b["probs"].argmax(-1) == b["labels"]
        return mcnemar_predictions(correct_a, correct_b, exact_below=exact_below)

    def test_description(self, exact_below: int) -> str:
        return (
            f"McNemar's test on the same test reviews (exact binomial below {exact_below} "
            "discordant pairs, else chi-square with continuity correction)"
        )

    def input_length(self, info: dict[str, Any], data_dir: Path | None) -> int:
        meta = data_dir / "meta.json" if data_dir is not None else None
        if meta is not None and meta.is_file():
            return int(json.loads(meta.read_text())["max_length"])
        return int(info["model"].get("max_length", 512))

    def latency_input(
        self, spec: Any, batch_size: int, length: int, seed: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        import torch

        gen = torch.Generator().manual_seed(seed)
        low = min(spec.pad_id + 1, spec.vocab_size - 1)
        ids = torch.randint(low, spec.vocab_size, (batch_size, length), generator=gen)  # (B, T)
        return ids, torch.full((batch_size,), length, dtype=torch.int64)  # (B,)

    def write_bundle(self, seed: SeedModel, out_dir: Path, data_dir: Path | None) -> dict[str, Any]:
        from seqbench.tasks.predictors import ENCODER_DIR, TOKENIZER_DIR

        if seed.format == "pt":  # a network reads token ids: ship the tokenizer
            if data_dir is None:
                raise BundleError(f"{seed.task}: a text model needs its tokenized data folder")
            tok = out_dir / TOKENIZER_DIR
            tok.mkdir()
            for name in ("tokenizer.json", "meta.json"):
                if not (data_dir / name).is_file():
                    raise BundleError(f"{data_dir / name}: missing; run the tokenize stage")
                shutil.copyfile(data_dir / name, tok / name)
        encoder = (seed.info.get("model_spec") or {}).get("encoder")
        if encoder:  # the architecture of a pre-trained encoder (its weights: weights.pt)
            from seqbench.models.pretrained import save_encoder_config

            save_encoder_config(encoder, out_dir / ENCODER_DIR)
        classes = int(seed.info["task"]["num_classes"])
        names = seed.info["task"].get("labels") or [str(i) for i in range(classes)]
        return {"labels": list(names)}

    def serving_schema(
        self, manifest: dict[str, Any], cfg: Any, data_dir: Path | None
    ) -> ServingSchema:
        import pandas as pd

        from seqbench.tasks.predictors import TEXT_COLUMN

        outputs = [Column("string", "label"), Column("long", "label_id")]
        outputs += [Column("double", "probability")]
        outputs += [Column("double", f"p_{name}") for name in manifest["labels"]]
        # One named column: a request with other columns is refused (a list of reviews fits too).
        example = pd.DataFrame({TEXT_COLUMN: list(cfg.text_examples)})
        return ServingSchema([Column("string", TEXT_COLUMN)], outputs, example)

    def predictor(self, bundle: Path) -> TextPredictor:
        from seqbench.tasks.predictors import TextPredictor

        return TextPredictor(bundle)


def _label_tokens(
    labels: list[str] | None, data_dir: Path, meta: dict[str, Any]
) -> tuple[tuple[int, ...], ...]:
    """The class names as token ids of the task's own tokenizer (the text-to-text targets)."""
    from seqbench.data.tokenize import TextEncoder
    from seqbench.typed import ConfigError

    if not labels:
        raise ConfigError("task.labels: expected the class names a text-to-text model writes")
    encoded = TextEncoder.from_dir(data_dir).encode_full(labels)
    unk = meta.get("unk_id")
    for name, ids in zip(labels, encoded, strict=True):
        if not ids or unk in ids:
            raise ConfigError(
                f"task.labels: {name!r}: expected words of the vocabulary in "
                f"{data_dir / 'tokenizer.json'}, got tokens {ids} (unk id {unk})"
            )
    return tuple(tuple(ids) for ids in encoded)


def _record(out: torch.Tensor, target: torch.Tensor, module: Any) -> dict[str, np.ndarray]:
    """Logits ``(B, C)`` → ``probs`` (B, C) and ``labels`` (B,)."""
    return {"probs": out.softmax(-1).numpy(), "labels": target.numpy()}
