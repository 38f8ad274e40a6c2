"""The pretrained family on a tiny randomly initialised BERT built here (no download, no
package weights): training step, the hybrid's shapes, padding masks, weights' provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
import transformers

from seqbench.models import ClassificationSpec, ModelConfig, build_model
from seqbench.models.pretrained import (
    PretrainedClassifier,
    PretrainedError,
    load_encoder,
    padding_mask,
    weights_sha256,
)

VOCAB = 50


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer, 32-wide BERT saved as a local folder, the way a hub snapshot looks."""
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    folder = tmp_path_factory.mktemp("tiny-bert")
    transformers.BertModel(config).save_pretrained(folder)
    return str(folder)


def spec(encoder: str) -> ClassificationSpec:
    return ClassificationSpec(vocab_size=VOCAB, num_classes=2, pad_id=0, encoder=encoder)


def build(arch: str, encoder: str, seed: int = 0) -> PretrainedClassifier:
    torch.manual_seed(seed)
    model = build_model(ModelConfig(arch=arch, hidden_size=16, dropout=0.0), spec(encoder))
    assert isinstance(model, PretrainedClassifier)
    return model


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 3, 5, 1])  # (B,)
    ids = torch.randint(1, VOCAB, (4, 7), generator=gen)  # (B, T)
    ids[torch.arange(7)[None, :] >= lengths[:, None]] = 0  # right padding
    return ids, lengths, torch.tensor([0, 1, 1, 0])


def test_padding_mask_marks_real_tokens():
    mask = padding_mask(torch.tensor([3, 1]), 4)
    assert mask.tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]


def test_loads_the_saved_weights_exactly(tiny_bert):
    a, b = load_encoder(tiny_bert), load_encoder(tiny_bert)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    fresh = load_encoder(tiny_bert, weights=False)  # config only: different random weights
    key = "embeddings.word_embeddings.weight"
    assert not torch.equal(fresh.state_dict()[key], a.state_dict()[key])


@pytest.mark.parametrize("arch", ["minilm", "minilm_frozen", "minilm_lstm"])
def test_padding_is_invisible(tiny_bert, arch):
    """Each review scores the same alone (no padding) as inside a padded batch."""
    model = build(arch, tiny_bert).eval()
    ids, lengths, _ = batch()
    with torch.no_grad():
        together = model(ids, lengths)  # (B, C)
        for row in range(len(ids)):
            n = int(lengths[row])
            alone = model(ids[row : row + 1, :n], lengths[row : row + 1])  # (1, C)
            torch.testing.assert_close(alone[0], together[row], atol=1e-5, rtol=1e-5)
        ids_more_pad = torch.cat([ids, torch.zeros(4, 5, dtype=ids.dtype)], dim=1)
        torch.testing.assert_close(model(ids_more_pad, lengths), together, atol=1e-5, rtol=1e-5)


def test_hybrid_shapes_and_last_real_step(tiny_bert):
    model = build("minilm_lstm", tiny_bert).eval()
    ids, lengths, _ = batch()
    assert model.lstm.input_size == 32 and model.lstm.hidden_size == 16
    assert model(ids, lengths).shape == (4, 2)
    states = model.states(ids, lengths)  # (B, T, d)
    assert states.shape == (4, 7, 32)
    # The LSTM's summary of review 1 is its state after its 3rd (last real) token.
    out, _ = model.lstm(states[1:2, :3])  # (1, 3, hidden)
    expected = model.head(out[0, -1])
    torch.testing.assert_close(model(ids, lengths)[1], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ["minilm", "minilm_frozen", "minilm_lstm"])
def test_training_step_lowers_the_loss_and_respects_freezing(tiny_bert, arch):
    model = build(arch, tiny_bert).train()
    ids, lengths, labels = batch()
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(15):
        loss = torch.nn.functional.cross_entropy(model(ids, lengths), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    changed = any(not torch.equal(before[k], v) for k, v in model.encoder.state_dict().items())
    assert changed == (arch != "minilm_frozen")
    if arch == "minilm_frozen":
        assert not model.encoder.training  # dropout off inside the fixed feature extractor
        assert all(not p.requires_grad for p in model.encoder.parameters())


def test_weights_sha256_is_the_weight_file_digest(tiny_bert, tmp_path):
    from pathlib import Path

    data = (Path(tiny_bert) / "model.safetensors").read_bytes()
    assert weights_sha256(tiny_bert) == hashlib.sha256(data).hexdigest()
    assert weights_sha256("some-org/a-hub-name") is None  # a hub name, not in the cache


def test_weights_sha256_of_a_hub_name_reads_the_hub_cache(tiny_bert, tmp_path, monkeypatch):
    import shutil

    from seqbench.models.pretrained import WEIGHT_FILES

    name = next(n for n in WEIGHT_FILES if (Path(tiny_bert) / n).is_file())
    snapshot = tmp_path / "hub" / "models--some-org--tiny" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    shutil.copy(Path(tiny_bert) / name, snapshot / name)
    (tmp_path / "hub" / "models--some-org--tiny" / "refs").mkdir()
    (tmp_path / "hub" / "models--some-org--tiny" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    data = (Path(tiny_bert) / name).read_bytes()
    assert weights_sha256("some-org/tiny") == hashlib.sha256(data).hexdigest()


def test_unloadable_encoder_is_one_line_error(tmp_path):
    with pytest.raises(PretrainedError, match=r"empty: expected a folder holding a pre-trained"):
        load_encoder(str(tmp_path / "empty"))
    (tmp_path / "no-config").mkdir()  # a folder, but no config.json / weights in it
    with pytest.raises(PretrainedError, match=r"no-config: cannot load a pre-trained encoder"):
        load_encoder(str(tmp_path / "no-config"))


def test_build_refuses_a_spec_without_encoder():
    from seqbench.typed import ConfigError

    with pytest.raises(ConfigError, match="pre-trained encoder"):
        build_model(ModelConfig(arch="minilm"), ClassificationSpec(vocab_size=VOCAB, num_classes=2))
