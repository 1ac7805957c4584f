"""read_sessions over joblib: any n_jobs, any backend, the serial result."""

import warnings
from pathlib import Path

import joblib
import pytest
from pcapbuilders import pcap_bytes, tcp4, udp4

from skfocal.capture import NotACaptureError, read_sessions

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """Some shared captures, or synthetic ones when they are absent.

    Either way the set holds a file that is not a capture and a truncated
    one, so that failures and warnings are compared too.
    """
    folder = tmp_path_factory.mktemp("parallel")
    bad = folder / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    cut = folder / "cut.pcap"
    cut.write_bytes(pcap_bytes([udp4(sport=1), udp4(sport=2)])[:-3])
    ndpi = SHARED_DATA / "ndpi-pcaps" / "pcap"
    if ndpi.is_dir():
        # Every 12th capture: pcap and pcapng, several link types, the
        # fuzzed ones among them.
        paths = sorted(ndpi.iterdir())[::12]
        facetime = SHARED_DATA / "ustc-tfc2016" / "Facetime.pcap"
        paths += [facetime] if facetime.exists() else []
    else:
        paths = []
        for index in range(12):
            path = folder / f"synthetic{index}.pcap"
            packets = [tcp4(b"x" * index, sport=1000 + k % 5) for k in range(40)]
            packets += [udp4(bytes(index), sport=k) for k in range(index)]
            path.write_bytes(pcap_bytes(packets))
            paths.append(path)
    return [*paths[:3], bad, *paths[3:], cut]


def _read(paths, **kwargs):
    """Sessions, stats and the warnings given, as comparable values."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions = read_sessions(paths, **kwargs)
    messages = [(w.category, str(w.message)) for w in caught]
    return list(sessions), sessions.stats, messages


def test_n_jobs_gives_the_serial_result(captures):
    serial = _read(captures)
    assert len(serial[0]) > 0 and serial[1].captures_failed and serial[2]
    assert _read(captures, n_jobs=2) == serial
    assert _read(captures, n_jobs=-1, min_packets=2) == _read(captures, min_packets=2)


def test_the_first_error_in_capture_order_is_raised(captures, tmp_path):
    other = tmp_path / "other.pcap"
    other.write_bytes(b"neither this one")
    paths = [*captures[:2], other, *captures[2:]]
    with warnings.catch_warnings():
        # Nor does joblib complain of the captures read ahead for nothing.
        warnings.filterwarnings("error", module="joblib")
        with pytest.raises(NotACaptureError, match="other.pcap"):
            read_sessions(paths, on_error="raise", n_jobs=2)


@pytest.mark.slow
def test_a_dask_cluster_gives_the_serial_result(captures):
    distributed = pytest.importorskip("distributed")
    serial = _read(captures)
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster):
        with joblib.parallel_backend("dask"):
            assert joblib.effective_n_jobs(None) > 1
            assert _read(captures) == serial
            assert _read(captures, n_jobs=-1, unit="flow") == _read(
                captures, unit="flow", n_jobs=1
            )
