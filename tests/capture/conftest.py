"""Fixtures of the capture tests: fresh capture files in a temporary folder."""

import pytest
from pcapbuilders import write_pcap


@pytest.fixture
def capture(tmp_path):
    """Write a classic pcap of ``packets`` under a fresh name; return its path."""
    counter = iter(range(1_000_000))

    def make(packets, name=None, **kwargs):
        path = tmp_path / (name or f"capture{next(counter)}.pcap")
        return write_pcap(path, packets, **kwargs)

    return make
