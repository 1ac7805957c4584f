"""Shared fixtures: where the real data lives, and quiet TensorFlow."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The real captures sit beside the checkout, never inside it.
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_path(*parts):
    """Return a path under ../shared/data, or skip the test saying why."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the real data at {path}, absent on this machine")
    return path


@pytest.fixture(scope="session")
def iscx_dir():
    return shared_path("iscx-vpn2016-12class-session-l7")


@pytest.fixture(scope="session")
def ndpi_dir():
    return shared_path("ndpi-pcaps")


@pytest.fixture(scope="session")
def ustc_dir():
    return shared_path("ustc-tfc2016")
