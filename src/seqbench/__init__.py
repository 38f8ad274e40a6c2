"""seqbench: a reproducible comparison of RNN, LSTM, GRU and Transformer models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seqbench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
