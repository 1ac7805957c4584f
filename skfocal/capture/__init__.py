"""Captures to packets to sessions; no TensorFlow on this side."""

from skfocal.capture._errors import (
    CaptureError,
    CaptureWarning,
    CorruptCaptureError,
    NotACaptureError,
    TruncatedCaptureError,
    UnsupportedFormatError,
)
from skfocal.capture._reader import iter_records
from skfocal.capture._records import ExtractionStats, Packet, Session, SessionList
from skfocal.capture._sessions import read_sessions
from skfocal.capture._split import split_capture

__all__ = sorted(
    [
        "CaptureError",
        "CaptureWarning",
        "CorruptCaptureError",
        "ExtractionStats",
        "NotACaptureError",
        "Packet",
        "Session",
        "SessionList",
        "TruncatedCaptureError",
        "UnsupportedFormatError",
        "iter_records",
        "read_sessions",
        "split_capture",
    ]
)
