"""The T5-like text-to-text row: it spells the label with the shared vocabulary and is served as
labels only."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from conftest import imdb_review
from pipeline_outputs import params as pipeline_params
from pipeline_outputs import write_reviews

from seqbench.data.config import TokenizerConfig
from seqbench.data.tokenize import TextEncoder, tokenize_dataset
from seqbench.models import ClassificationSpec, ModelConfig, build_model
from seqbench.serving.config import register_config
from seqbench.serving.register import register_arch
from seqbench.training.outputs import best_seed
from seqbench.training.run import resolve_run
from seqbench.training.seeds import train_all_seeds
from seqbench.typed import ConfigError

# Labels of different lengths, one a prefix of another's tokens: decoding must still separate them.
SPEC = ClassificationSpec(vocab_size=40, num_classes=3, label_tokens=((5,), (5, 6), (9, 7, 3)))


def tiny(**kw) -> ModelConfig:
    base = {"arch": "transformer_t2t", "hidden_size": 16, "num_heads": 2, "ff_size": 32}
    return ModelConfig(**(base | kw))


def test_scores_are_teacher_forced_token_log_likelihoods_over_the_whole_vocabulary():
    """Score of label c = sum over its tokens (+ end) of log softmax over all V+1 outputs,
    each step conditioned on the true previous tokens: checked against a step-by-step decoder."""
    torch.manual_seed(0)
    model = build_model(tiny(), SPEC).eval()
    ids = torch.randint(1, 40, (2, 7))
    lengths = torch.tensor([7, 4])
    with torch.no_grad():
        scores = model(ids, lengths)  # (B, C)
        memory, enc_lengths = model.encode(ids, lengths)
        for c, tokens in enumerate(SPEC.label_tokens):
            targets = [*tokens, model.end_id]
            expected = torch.zeros(2)
            for k, target in enumerate(targets):
                inputs = model.embed_inputs(torch.tensor([tokens[:k]] * 2, dtype=torch.long))
                states = model.encoder.decode(memory, enc_lengths, inputs)[:, -1]  # (B, d)
                logits = model.vocab_logits(states)  # (B, V+1)
                assert logits.shape == (2, 41)
                expected -= F.cross_entropy(logits, torch.tensor([target] * 2), reduction="none")
            torch.testing.assert_close(scores[:, c], expected, atol=1e-5, rtol=0)
    labels = torch.tensor([2, 1])
    per_token = -(scores[[0, 1], labels] / torch.tensor([4.0, 3.0])).mean()
    torch.testing.assert_close(model.loss(scores, labels), per_token)


def test_decoding_returns_only_valid_labels_even_when_free_decoding_does_not():
    torch.manual_seed(1)
    model = build_model(tiny(), SPEC).eval()
    ids = torch.randint(1, 40, (64, 9))
    with torch.no_grad():
        decoded = model.decode(ids)
        free = model.generate(ids)
        scores = model(ids)
    assert decoded.shape == (64,) and set(decoded.tolist()) <= {0, 1, 2}
    assert torch.equal(decoded, scores.argmax(-1))
    # An untrained model writes arbitrary tokens: the constraint is what keeps labels valid.
    assert sum(model.label_of(tokens) is None for tokens in free) > 32
    assert model.label_of([5, 6]) == 1 and model.label_of([5]) == 0 and model.label_of([6]) is None


def test_it_learns_to_write_the_label_words():
    """On a separable toy task the freely decoded text becomes exactly the label's tokens."""
    torch.manual_seed(0)
    model = build_model(tiny(dropout=0.0), SPEC)
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (192,), generator=gen)
    ids = torch.randint(20, 40, (192, 8), generator=gen)
    ids[:, 3] = 10 + labels  # one token tells the class
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        model.loss(model(ids), labels).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        free = [model.label_of(tokens) for tokens in model.generate(ids)]
        decoded = model.decode(ids)
    assert (decoded == labels).float().mean() > 0.95
    assert np.mean([f == y for f, y in zip(free, labels.tolist(), strict=True)]) > 0.95


def test_building_needs_the_label_tokens():
    with pytest.raises(ConfigError, match=r"task\.labels"):
        build_model(tiny(), ClassificationSpec(vocab_size=40, num_classes=3))
    with pytest.raises(ConfigError, match="label_tokens"):
        build_model(
            tiny(), ClassificationSpec(vocab_size=40, num_classes=2, label_tokens=((5,), (5,)))
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("t2t")
    write_reviews(root / "processed" / "imdb")
    tokenize_dataset(
        TokenizerConfig(vocab_size=200, min_frequency=1, max_length=24),
        root / "processed" / "imdb",
        root / "tokenized" / "imdb",
    )
    params = pipeline_params()
    params["models"]["transformer_t2t"] = {
        "hidden_size": 16, "num_layers": 1, "num_heads": 2, "ff_size": 32,
    }  # fmt: skip
    params["train"]["seeds"] = [0]
    params["train"]["defaults"]["train"] |= {"max_epochs": 12, "patience": 0}
    spec = resolve_run(params, "imdb", "transformer_t2t", data_dir=root / "tokenized" / "imdb")
    train_all_seeds(
        spec,
        models_dir=root / "models" / "imdb-transformer_t2t",
        metrics_path=root / "metrics" / "imdb-transformer_t2t.json",
        curves_path=root / "curves" / "imdb-transformer_t2t.csv",
        track=False,
    )
    return root, params


def test_the_labels_are_tokenized_with_the_tasks_own_tokenizer(trained):
    root, _ = trained
    seed = best_seed(root / "models" / "imdb-transformer_t2t")
    encoder = TextEncoder.from_dir(root / "tokenized" / "imdb")
    words = encoder.encode_full(["negative", "positive"])
    assert [list(t) for t in seed.info["model_spec"]["label_tokens"]] == words
    metrics = json.loads((root / "metrics" / "imdb-transformer_t2t.json").read_text())
    assert metrics["mean"]["test/acc"] > 0.9  # the synthetic reviews carry sentiment words


def test_a_label_outside_the_vocabulary_is_refused_naming_the_key(trained):
    root, params = trained
    params = json.loads(json.dumps(params))
    params["train"]["imdb"]["task"]["labels"] = ["negative", "ネガ"]
    spec = resolve_run(params, "imdb", "transformer_t2t", data_dir=root / "tokenized" / "imdb")
    with pytest.raises(ConfigError, match=r"task.labels: 'ネガ': expected words of the vocabulary"):
        train_all_seeds(
            spec,
            models_dir=root / "bad" / "models",
            metrics_path=root / "bad" / "m.json",
            curves_path=root / "bad" / "c.csv",
            track=False,
        )
    assert not (root / "bad" / "m.json").exists()


@pytest.mark.slow
def test_a_registered_t2t_model_serves_labels_on_raw_text(trained, tmp_path, monkeypatch):
    root, params = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.chdir(tmp_path)
    done = register_arch(
        "imdb",
        "transformer_t2t",
        register_config(params),
        models_dir=root / "models",
        data_dir=root / "tokenized" / "imdb",
    )
    served = mlflow.pyfunc.load_model(f"models:/seqbench-imdb/{done.version}")
    reviews = [imdb_review("test", label, i) for i in range(3) for label in (1, 0)]
    out = served.predict(pd.DataFrame({"text": reviews}))
    # The served labels are the network's own constrained decoding of the raw reviews (its
    # accuracy is checked on the whole test split above; a few reviews can flip between
    # machines, whose float reductions differ).
    network = best_seed(root / "models" / "imdb-transformer_t2t").load()
    encoder = TextEncoder.from_dir(root / "tokenized" / "imdb")
    with torch.no_grad():
        decoded = [
            int(network.decode(torch.tensor([ids]))[0]) for ids in encoder.encode_batch(reviews)
        ]
    assert list(out["label"]) == [["negative", "positive"][c] for c in decoded]
    assert list(out["label_id"]) == decoded
    assert np.allclose(out["p_positive"] + out["p_negative"], 1.0)
