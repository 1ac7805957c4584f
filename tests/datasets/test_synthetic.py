"""make_capture: synthetic sessions that read back as written."""

import csv

import numpy as np
import pytest

from skfocal import read_sessions
from skfocal.datasets import load_labelled_captures, make_capture


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    path, flows = folder / "synthetic.pcap", folder / "flows.csv"
    y = make_capture(path, n_sessions=120, weights=[0.5, 0.2, 0.1, 0.1, 0.1],
                     flows=flows, random_state=0)
    return path, flows, y


def test_sessions_read_back_one_per_label(capture):
    path, _, y = capture
    sessions = read_sessions(path)
    assert len(sessions) == len(y) == 120
    assert sum(sessions.stats.packets_skipped.values()) == 0
    ports = {"DNS": 53, "HTTP": 80, "NTP": 123, "SSH": 22, "TLS": 443}
    assert [s.dport for s in sessions] == [ports[label] for label in y]
    protocols = {"DNS": 17, "NTP": 17, "HTTP": 6, "SSH": 6, "TLS": 6}
    assert [s.protocol for s in sessions] == [protocols[label] for label in y]


def test_label_counts_follow_the_weights_exactly(capture):
    _, _, y = capture
    labels, counts = np.unique(y, return_counts=True)
    assert dict(zip(labels, counts)) == {"DNS": 60, "HTTP": 24, "NTP": 12,
                                         "SSH": 12, "TLS": 12}


def test_flow_table_labels_the_capture_like_ndpi(capture):
    path, flows, y = capture
    with open(flows, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["pcap", "transport", "src", "sport", "dst", "dport",
                             "bidirectional", "master", "app", "category"]
    X, labels, _ = load_labelled_captures(path, flows, label_column="app")
    assert X.labelling.rows_matched == X.labelling.rows == len(y)
    assert list(labels) == list(y)


def test_sessions_are_protocol_faithful(capture):
    path, _, y = capture
    sessions = read_sessions(path)
    payloads = {}
    for session, label in zip(sessions, y):
        first = next(p for p in session.packets if len(p.data) > p.payload_offset)
        payloads.setdefault(label, first.data[first.payload_offset:])
    assert payloads["HTTP"].startswith(b"GET /")
    assert payloads["TLS"][:3] == b"\x16\x03\x01"  # handshake record
    assert payloads["TLS"][5] == 1  # ClientHello
    assert payloads["SSH"].startswith(b"SSH-2.0-")
    assert payloads["NTP"][0] & 0x07 == 3  # client mode
    tcp = next(s for s, label in zip(sessions, y) if label == "HTTP")
    flags = [p.data[p.transport_offset + 13] for p in tcp.packets[:3]]
    assert flags == [0x02, 0x12, 0x10]  # SYN, SYN-ACK, ACK


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    paths = [tmp_path / f"{name}.pcap" for name in "abc"]
    y_a = make_capture(paths[0], n_sessions=15, random_state=3)
    y_b = make_capture(paths[1], n_sessions=15, random_state=3)
    make_capture(paths[2], n_sessions=15, random_state=4)
    assert list(y_a) == list(y_b)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_weights_forms(tmp_path):
    path = tmp_path / "w.pcap"
    y = make_capture(path, n_sessions=10, weights=[0.5, 0.5, 0, 0], random_state=0)
    assert sorted(set(y)) == ["DNS", "HTTP"]
    y = make_capture(path, n_sessions=10, weights={"SSH": 4, "NTP": 1},
                     random_state=0)
    assert (y == "SSH").sum() == 8 and (y == "NTP").sum() == 2
    y = make_capture(path, n_sessions=10, random_state=0)
    assert np.unique(y, return_counts=True)[1].tolist() == [2] * 5


@pytest.mark.parametrize("kwargs, match", [
    ({"n_sessions": 0}, "n_sessions must be an int from 1"),
    ({"weights": [1, 2]}, "weights must hold 5 proportions"),
    ({"weights": [1, -1, 1, 1, 1]}, "non-negative"),
    ({"weights": {"FTP": 1}}, "unknown keys: \\['FTP'\\]"),
])
def test_bad_arguments_say_what_is_accepted(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_capture(tmp_path / "x.pcap", **kwargs)
