"""DVC stage tokenize_pretrained@<task>: encode every split with a pre-trained encoder's own
tokenizer (nothing is fit on our data), for the ``pretrained`` train/tune group."""

from seqbench import stage
from seqbench.data.config import PretrainedTokenizerConfig
from seqbench.data.tokenize import tokenize_pretrained
from seqbench.models.pretrained import load_tokenizer
from seqbench.typed import build, load_params, section
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("task", "text task in params.yaml (pretrained.<name>: the encoder and truncation)"),
    ("processed_dir", "folder holding {train,val,test}.parquet"),
    ("report_dir", "the dataset's validation report; it must have passed"),
    ("out_dir", "folder to write tokenizer.json, meta.json and {train,val,test}.npz to"),
)


def main(args) -> None:
    where = f"pretrained.{args.task}"
    cfg = build(PretrainedTokenizerConfig, section(load_params(args.params), where), where)
    require_passed(args.report_dir)
    tokenizer, special = load_tokenizer(cfg.encoder)
    meta = tokenize_pretrained(cfg, tokenizer, special, args.processed_dir, args.out_dir)
    for split, stats in meta["splits"].items():
        print(
            f"{split}: {stats['count']:,} reviews, mean length {stats['mean_length']}, "
            f"truncated {stats['truncated_fraction']:.1%}, unk {stats['unk_fraction']:.3%}"
        )
    digest = meta["encoder_sha256"] or "unknown: not in the hub cache"
    print(
        f"tokenized {args.out_dir} with {cfg.encoder} (weights sha256 {digest}): "
        f"vocabulary {meta['vocab_size']:,}"
    )


if __name__ == "__main__":
    stage.run(main, PARSER)
