"""Loaders for session images and labelled captures."""

from skfocal.datasets._flows import (
    LabellingReport,
    label_sessions,
    load_labelled_captures,
)
from skfocal.datasets._idx import ISCX_VPN2016_CLASSES, load_idx, load_iscx_vpn2016
from skfocal.datasets._synthetic import make_capture

__all__ = sorted(
    [
        "ISCX_VPN2016_CLASSES",
        "LabellingReport",
        "label_sessions",
        "load_idx",
        "load_iscx_vpn2016",
        "load_labelled_captures",
        "make_capture",
    ]
)
