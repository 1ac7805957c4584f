"""Captures to packets to sessions; no TensorFlow on this side."""

from skfocal.capture._records import ExtractionStats, Packet, Session, SessionList
from skfocal.capture._sessions import read_sessions

__all__ = sorted(["ExtractionStats", "Packet", "Session", "SessionList", "read_sessions"])
