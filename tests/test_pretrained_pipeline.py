"""The pretrained group through the pipeline's own code on a tiny random BERT with a tokenizer
trained here (no download, no package weights): the encoder's tokenization, training, the
serving bundle (raw text in, batch invariant, no source weights needed) and the weights'
provenance tags."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import transformers
from conftest import imdb_review
from pipeline_outputs import params as pipeline_params
from pipeline_outputs import write_reviews

from seqbench.data.config import PretrainedTokenizerConfig
from seqbench.data.kinds import input_dir, task_architectures, train_tasks
from seqbench.data.tokenize import TextEncoder, TokenizeError, load_encoded, tokenize_pretrained
from seqbench.models.flops import estimate_flops
from seqbench.models.pretrained import load_tokenizer
from seqbench.report.readme import pipeline_stages
from seqbench.serving.config import register_config
from seqbench.serving.register import TAG_ENCODER, TAG_ENCODER_SHA256, register_arch
from seqbench.tasks.predictors import ENCODER_DIR, TextPredictor
from seqbench.training.outputs import best_seed
from seqbench.training.run import resolve_run
from seqbench.training.seeds import train_all_seeds
from seqbench.typed import ConfigError

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_hub_folder(folder: Path) -> Path:
    """A BERT snapshot as the hub serves one: config, weights and a fast tokenizer whose
    tokenizer.json pads and truncates to 40 (as the packaged MiniLM's does, at 128)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    texts = [imdb_review("train", label, i) for i in range(40) for label in (0, 1)]
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=SPECIAL, show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.enable_padding(length=40)
    tok.enable_truncation(40)
    fast = transformers.BertTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]", model_max_length=64,
    )  # fmt: skip
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    transformers.BertModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Path]:
    """Reviews → tokenize_pretrained → two rows trained, as the stages do it."""
    root = tmp_path_factory.mktemp("pretrained")
    hub = make_hub_folder(root / "hub")
    write_reviews(root / "processed" / "imdb")
    cfg = PretrainedTokenizerConfig(encoder=str(hub), max_length=24)
    tokenizer, special = load_tokenizer(cfg.encoder)
    tokenize_pretrained(
        cfg, tokenizer, special, root / "processed" / "imdb", root / "tokenized" / "imdb-pretrained"
    )
    params = pipeline_params()
    params["train"]["tasks"]["pretrained"] = ["imdb"]
    params["train"]["architectures"]["pretrained"] = ["minilm", "minilm_frozen"]
    params["models"] |= {"minilm": {"hidden_size": 16}, "minilm_frozen": {"hidden_size": 16}}
    params["train"]["seeds"] = [0]
    params["train"]["imdb"]["arch"] = {
        "minilm": {"optim": {"lr": 3.0e-3}, "train": {"max_epochs": 4}},
        "minilm_frozen": {"optim": {"lr": 1.0e-2}, "train": {"max_epochs": 4}},
    }
    for arch in ("minilm", "minilm_frozen"):
        spec = resolve_run(params, "imdb", arch, data_dir=input_dir(params, "imdb", arch, root))
        train_all_seeds(
            spec,
            models_dir=root / "models" / f"imdb-{arch}",
            metrics_path=root / "metrics" / f"imdb-{arch}.json",
            curves_path=root / "curves" / f"imdb-{arch}.csv",
            track=False,
        )
    return root, params, hub


def test_reviews_are_wrapped_in_the_encoders_special_tokens_and_cut_by_our_rule(pipeline):
    root, _, hub = pipeline
    out = root / "tokenized" / "imdb-pretrained"
    meta = json.loads((out / "meta.json").read_text())
    fast = transformers.AutoTokenizer.from_pretrained(hub)
    assert meta["prefix_ids"] == [fast.cls_token_id] and meta["suffix_ids"] == [fast.sep_token_id]
    assert meta["encoder"] == str(hub)
    assert meta["vocab_size"] == fast.backend_tokenizer.get_vocab_size()
    weights = hashlib.sha256((hub / "model.safetensors").read_bytes()).hexdigest()
    assert meta["encoder_sha256"] == weights
    assert meta["max_length"] == 24 and meta["head_length"] == round(0.25 * 22)
    split = load_encoded(out, "train")
    lengths = split.lengths
    # the tokenizer.json's own padding/truncation to 40 are off: lengths vary, capped at 24
    assert lengths.max() == 24 and lengths.min() < 20 and len(set(lengths.tolist())) > 5
    texts = pd.read_parquet(root / "processed" / "imdb" / "train.parquet")["text"].tolist()
    for i in range(len(split)):
        ids = split.ids[split.offsets[i] : split.offsets[i + 1]].tolist()
        assert ids[0] == fast.cls_token_id and ids[-1] == fast.sep_token_id
        assert ids.count(fast.cls_token_id) == 1 and fast.pad_token_id not in ids
        plain = fast(texts[i].replace("<br />", " "), add_special_tokens=False)["input_ids"]
        if len(plain) <= 22:
            assert ids[1:-1] == plain  # short reviews whole, "<br />" read as a space
        else:  # head_tail: the first quarter of the budget, then the end
            assert ids[1:-1] == plain[: meta["head_length"]] + plain[-(22 - meta["head_length"]) :]


def test_a_max_length_beyond_the_encoders_positions_is_refused_naming_the_key(pipeline, tmp_path):
    root, _, hub = pipeline
    tokenizer, special = load_tokenizer(str(hub))
    cfg = PretrainedTokenizerConfig(encoder=str(hub), max_length=65)
    with pytest.raises(TokenizeError, match=r"pretrained.<task>.max_length: expected at most 64"):
        tokenize_pretrained(cfg, tokenizer, special, root / "processed" / "imdb", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_rows_learn_from_the_encoders_tokenization(pipeline):
    root, _, _ = pipeline
    for arch, floor in (("minilm", 0.8), ("minilm_frozen", 0.7)):
        metrics = json.loads((root / "metrics" / f"imdb-{arch}.json").read_text())
        assert metrics["mean"]["test/acc"] >= floor, arch  # the reviews carry sentiment words
        seed = best_seed(root / "models" / f"imdb-{arch}")
        assert seed.info["model_spec"]["encoder"].endswith("hub")
        # FLOPs of the encoder: 2 layers × (8 T d² + 4 T d f + 4 T² d) at T = 24, d 32, f 64
        encoder = 2 * (8 * 24 * 32 * 32 + 4 * 24 * 32 * 64 + 4 * 24 * 24 * 32)
        head = 2 * 32 * 2 if arch == "minilm" else 2 * 32 * 16 + 2 * 16 * 2
        assert estimate_flops(seed.model_config(), seed.spec(), 24) == encoder + head


def test_the_pretrained_group_reads_its_own_folder_and_adds_its_stages(pipeline):
    _, params, _ = pipeline
    assert input_dir(params, "imdb", "minilm") == Path("data/tokenized/imdb-pretrained")
    assert input_dir(params, "imdb", "gru") == Path("data/tokenized/imdb")
    assert train_tasks(params) == ["imdb", "toy"]  # imdb once, though in two groups
    assert task_architectures(params, "imdb") == ["gru", "transformer", "minilm", "minilm_frozen"]
    stages = pipeline_stages(params)
    assert "tokenize_pretrained@imdb" in stages
    assert stages.index("train_pretrained@imdb-minilm") > stages.index("train_text@imdb-gru")
    both = json.loads(json.dumps(params))
    both["train"]["architectures"]["pretrained"].append("gru")
    clash = r"train.architectures.pretrained: gru also trains on imdb"
    with pytest.raises(ConfigError, match=clash):
        task_architectures(both, "imdb")
    series = json.loads(json.dumps(params))
    series["train"]["tasks"]["pretrained"].append("toy")
    with pytest.raises(ConfigError, match=r"train.tasks.pretrained: toy is a csv_series dataset"):
        train_tasks(series)


@pytest.mark.slow
def test_the_registered_model_takes_raw_text_is_batch_invariant_and_records_its_weights(
    pipeline, tmp_path, monkeypatch
):
    root, params, hub = pipeline
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    weights = hashlib.sha256((hub / "model.safetensors").read_bytes()).hexdigest()
    done = register_arch(
        "imdb",
        "minilm",
        register_config(params),
        models_dir=root / "models",
        data_dir=root / "tokenized" / "imdb-pretrained",
    )
    client = mlflow.MlflowClient()
    tags = client.get_model_version("seqbench-imdb", done.version).tags
    assert tags[TAG_ENCODER] == str(hub) and tags[TAG_ENCODER_SHA256] == weights
    moved = root / "hub-moved"  # the served model needs none of the source's files
    shutil.move(hub, moved)
    try:
        served = mlflow.pyfunc.load_model(f"models:/seqbench-imdb/{done.version}")
        reviews = [imdb_review("test", label, i) for i in range(6) for label in (1, 0)]
        reviews[0] = reviews[0] + " " + reviews[1] * 3  # longer than max_length: truncated
        together = served.predict(pd.DataFrame({"text": reviews}))
        alone = pd.concat([served.predict(pd.DataFrame({"text": [r]})) for r in reviews])
        order = np.random.default_rng(0).permutation(len(reviews))
        shuffled = served.predict(pd.DataFrame({"text": [reviews[i] for i in order]}))
    finally:
        shutil.move(moved, hub)
    np.testing.assert_allclose(alone["p_positive"], together["p_positive"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(
        shuffled["p_positive"], together["p_positive"].to_numpy()[order], atol=1e-5, rtol=0
    )
    # the served probabilities are the trained network's on the stage's own encoding
    network = best_seed(root / "models" / "imdb-minilm").load()
    encoder = TextEncoder.from_dir(root / "tokenized" / "imdb-pretrained")
    with torch.no_grad():
        direct = [
            network(torch.tensor([e]), torch.tensor([len(e)])).softmax(-1)[0, 1].item()
            for e in encoder.encode_batch(reviews)
        ]
    np.testing.assert_allclose(together["p_positive"], direct, atol=1e-5, rtol=0)
    assert (together["label"] == np.where(np.array(direct) > 0.5, "positive", "negative")).all()


def test_a_bundle_holds_the_encoders_config_and_loads_without_its_weights(pipeline, tmp_path):
    from seqbench.serving.register import make_bundle

    root, _, _ = pipeline
    seed = best_seed(root / "models" / "imdb-minilm_frozen")
    bundle = make_bundle(seed, tmp_path / "b", data_dir=root / "tokenized" / "imdb-pretrained")
    config = json.loads((bundle / ENCODER_DIR / "config.json").read_text())
    assert config["hidden_size"] == 32 and config["num_hidden_layers"] == 2
    assert not any((bundle / ENCODER_DIR).glob("*.safetensors"))
    predictor = TextPredictor(bundle)
    network = seed.load()
    for (name, a), b in zip(
        predictor.model.state_dict().items(), network.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
