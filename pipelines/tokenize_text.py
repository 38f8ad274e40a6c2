"""DVC stage tokenize@<dataset>: train a subword tokenizer on train reviews, encode all splits.

(Not named ``tokenize.py``: a script's folder comes first on ``sys.path``, and that name would
shadow the standard library's ``tokenize`` module.)
"""

from seqbench import stage
from seqbench.data.config import TokenizerConfig
from seqbench.data.tokenize import tokenize_dataset
from seqbench.typed import build, load_params, section
from seqbench.validation.core import require_passed

PARSER = stage.parser(
    __doc__,
    ("dataset", "dataset name in params.yaml (tokenize.<name>)"),
    ("processed_dir", "folder holding {train,val,test}.parquet"),
    ("report_dir", "the dataset's validation report; it must have passed"),
    ("out_dir", "folder to write tokenizer.json, meta.json and {train,val,test}.npz to"),
)


def main(args) -> None:
    where = f"tokenize.{args.dataset}"
    cfg = build(TokenizerConfig, section(load_params(args.params), where), where)
    require_passed(args.report_dir)
    meta = tokenize_dataset(cfg, args.processed_dir, args.out_dir)
    for split, stats in meta["splits"].items():
        print(
            f"{split}: {stats['count']:,} reviews, mean length {stats['mean_length']}, "
            f"truncated {stats['truncated_fraction']:.1%}, unk {stats['unk_fraction']:.3%}"
        )
    print(f"tokenized {args.out_dir}: vocabulary {meta['vocab_size']:,}")


if __name__ == "__main__":
    stage.run(main, PARSER)
