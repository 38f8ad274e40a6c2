"""The architecture zoo: plain ``torch.nn`` models behind one registry (no Lightning, no MLflow)."""

from seqbench.models.config import ClassificationSpec, ForecastSpec, ModelConfig, TaggingSpec
from seqbench.models.flops import estimate_flops
from seqbench.models.model import build_model, count_parameters
from seqbench.models.registry import ARCHITECTURES, Architecture

__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "ClassificationSpec",
    "ForecastSpec",
    "ModelConfig",
    "TaggingSpec",
    "build_model",
    "count_parameters",
    "estimate_flops",
]
