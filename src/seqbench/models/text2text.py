"""Text-to-text classification (T5-like): the encoder-decoder writes the label as words.

The class names ("negative", "positive") are tokenized with the task's own tokenizer, and the
decoder learns to spell them token by token over the whole shared vocabulary, with teacher
forcing, exactly like any sequence-to-sequence model (Raffel et al. 2020). The vocabulary has no
start or end token, so two learned vectors play them: ``start`` is the decoder's first input and
``end`` is one extra output row (id ``V``) that closes every label.

Prediction decodes under the constraint that the output is one of the labels: the most likely
valid label sequence, found exactly by scoring every label's token sequence (an exhaustive beam,
cheap for a handful of short labels). :meth:`TextToText.generate` decodes freely, greedily, over
the whole vocabulary, which is what an unconstrained T5 would write.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqbench.models.adapters import TokenEmbedding
from seqbench.models.transformer import TransformerEncDec
from seqbench.typed import check


class TextToText(nn.Module):
    """Token ids (B, T) → the log-likelihood (B, C) of each label's token sequence.

    ``label_tokens[c]`` are the token ids of class ``c``'s name. Decoder inputs are embedded with
    the encoder's token table and outputs scored against the same table (tied, as in T5), plus
    the ``end`` row. A softmax over the C log-likelihoods gives the class probabilities; their
    argmax is the constrained decoding, the prediction.
    """

    def __init__(
        self,
        adapter: TokenEmbedding,
        encoder: TransformerEncDec,
        label_tokens: Sequence[Sequence[int]],
        dropout: float,
    ) -> None:
        super().__init__()
        labels = [tuple(int(t) for t in tokens) for tokens in label_tokens]
        vocab, d = adapter.embed.weight.shape
        check(
            all(labels) and len(set(labels)) == len(labels),
            "label_tokens",
            "a distinct, non-empty token sequence per class",
            labels,
        )
        check(
            all(0 <= t < vocab for tokens in labels for t in tokens),
            "label_tokens",
            f"token ids below the vocabulary size {vocab}",
            labels,
        )
        self.adapter = adapter
        self.encoder = encoder
        self.end_id = vocab  # the extra output row
        self.start = nn.Parameter(torch.randn(d) * 0.02)  # (d,)
        self.end = nn.Parameter(torch.randn(1, d) * 0.02)  # (1, d)
        self.bias = nn.Parameter(torch.zeros(vocab + 1))  # (V+1,)
        self.drop = nn.Dropout(dropout)
        steps = max(len(tokens) for tokens in labels) + 1  # S: label tokens + end
        targets = torch.full((len(labels), steps), self.end_id)  # (C, S)
        for c, tokens in enumerate(labels):
            targets[c, : len(tokens)] = torch.tensor(tokens)
        lengths = torch.tensor([len(tokens) + 1 for tokens in labels])  # (C,) with the end
        self.register_buffer("targets", targets, persistent=False)
        self.register_buffer("target_lengths", lengths, persistent=False)

    # -- pieces ------------------------------------------------------------------------------
    def encode(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        return self.encoder(self.adapter(ids), lengths)  # memory (B, T, d), lengths (B,)

    def embed_inputs(self, tokens: Tensor) -> Tensor:
        """Decoder inputs for the tokens written so far (N, k) → (N, k+1, d), start first."""
        start = self.start.expand(tokens.size(0), 1, -1)  # (N, 1, d)
        return torch.cat([start, self.adapter.embed(tokens)], dim=1)  # (N, k+1, d)

    def vocab_logits(self, states: Tensor) -> Tensor:
        """Decoder states (..., d) → next-token logits (..., V+1) over the tied vocabulary."""
        table = torch.cat([self.adapter.embed.weight, self.end], dim=0)  # (V+1, d)
        return self.drop(states) @ table.T + self.bias  # (..., V+1)

    # -- training and constrained decoding ---------------------------------------------------
    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Teacher-forced log-likelihood of every label: ``log p(label_c | text)`` (B, C)."""
        if lengths is None:
            lengths = self.adapter.default_lengths(ids)
        memory, lengths = self.encode(ids, lengths)  # (B, T, d)
        batch, classes = ids.size(0), self.targets.size(0)
        steps = self.targets.size(1)
        # Every review is decoded against every label: rows b*C + c.
        memory = memory.repeat_interleave(classes, dim=0)  # (B*C, T, d)
        lengths = lengths.repeat_interleave(classes, dim=0)  # (B*C,)
        targets = self.targets.repeat(batch, 1)  # (B*C, S)
        inputs = self.embed_inputs(targets[:, :-1].clamp(max=self.end_id - 1))  # (B*C, S, d)
        states = self.encoder.decode(memory, lengths, inputs)  # (B*C, S, d)
        logp = self.vocab_logits(states).float().log_softmax(-1)  # (B*C, S, V+1)
        token_logp = logp.gather(-1, targets[..., None]).squeeze(-1)  # (B*C, S)
        valid = torch.arange(steps, device=ids.device) < self.target_lengths.repeat(batch)[:, None]
        return (token_logp * valid).sum(-1).view(batch, classes)  # (B, C)

    def loss(self, scores: Tensor, labels: Tensor) -> Tensor:
        """Teacher-forcing cross-entropy: the true label's negative log-likelihood per token."""
        true = scores.gather(1, labels[:, None]).squeeze(1)  # (B,)
        return -(true / self.target_lengths[labels]).mean()

    def decode(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Constrained decoding: the label id (B,) whose token sequence is most likely."""
        return self(ids, lengths).argmax(-1)

    # -- free decoding -----------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, ids: Tensor, lengths: Tensor | None = None) -> list[list[int]]:
        """Greedy decoding over the whole vocabulary, up to the longest label + 1 tokens; the
        tokens written before ``end`` (any ids: nothing forces them to spell a label)."""
        if lengths is None:
            lengths = self.adapter.default_lengths(ids)
        memory, lengths = self.encode(ids, lengths)  # (B, T, d)
        written = ids.new_zeros(ids.size(0), 0)  # (B, 0)
        for _ in range(self.targets.size(1)):
            inputs = self.embed_inputs(written.clamp(max=self.end_id - 1))  # (B, k+1, d)
            states = self.encoder.decode(memory, lengths, inputs)  # (B, k+1, d)
            step = self.vocab_logits(states[:, -1]).argmax(-1)  # (B,)
            written = torch.cat([written, step[:, None]], dim=1)  # (B, k+1)
        out = []
        for row in written.tolist():
            out.append(row[: row.index(self.end_id)] if self.end_id in row else row)
        return out

    def label_of(self, tokens: Sequence[int]) -> int | None:
        """The class whose name is exactly ``tokens``, else None (an invalid output)."""
        for c in range(self.targets.size(0)):
            length = int(self.target_lengths[c]) - 1
            if list(tokens) == self.targets[c, :length].tolist():
                return c
        return None
