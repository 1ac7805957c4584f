"""Classify network traffic with rare classes, the scikit-learn way."""

import importlib

from skfocal.capture import ExtractionStats, Packet, Session, SessionList, read_sessions
from skfocal._transformer import PcapImageTransformer

__version__ = "0.1.0.dev0"

# The model side imports TensorFlow, which takes seconds; load it on first use
# so that reading captures stays light.
_LAZY = {
    "FocalCNNClassifier": "skfocal._classifier",
    "FocalLoss": "skfocal.losses",
    "focal_loss": "skfocal.losses",
}

__all__ = sorted(
    [
        "ExtractionStats",
        "FocalCNNClassifier",
        "FocalLoss",
        "Packet",
        "PcapImageTransformer",
        "Session",
        "SessionList",
        "focal_loss",
        "read_sessions",
    ]
)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in ("datasets", "losses"):
        return importlib.import_module(f"skfocal.{name}")
    raise AttributeError(f"module 'skfocal' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
