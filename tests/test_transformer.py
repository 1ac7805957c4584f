"""PcapImageTransformer: which bytes land in a row, and sklearn behaviour."""

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap
from sklearn.base import clone

from skfocal import Packet, PcapImageTransformer, Session, read_sessions
from skfocal._transformer import session_bytes

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def _session(*packets, protocol=6):
    return Session("x.pcap", protocol, "10.0.0.1", 1234, "10.0.0.2", 80, 0.0,
                   len(packets), sum(len(p.data) for p in packets), packets)


def _ether_tcp(payload, sport=1234, dport=80, src="10.0.0.1", dst="10.0.0.2"):
    frame = (Ether(src=MAC_A, dst=MAC_B) / IP(src=src, dst=dst, id=1)
             / TCP(sport=sport, dport=dport, flags="PA", seq=1) / payload)
    return frame


@pytest.fixture
def http_capture(tmp_path):
    request = _ether_tcp(b"GET / HTTP/1.1\r\n\r\n")
    reply = _ether_tcp(b"HTTP/1.1 200 OK\r\n\r\n", sport=80, dport=1234,
                       src="10.0.0.2", dst="10.0.0.1")
    path = tmp_path / "http.pcap"
    wrpcap(str(path), [request, reply])
    return path, bytes(request), bytes(reply)


def test_l7_concatenates_payloads_in_order():
    first = Packet(0.0, bytes(40) + b"abc", 0, 20, 40)
    second = Packet(1.0, bytes(40) + b"defg", 0, 20, 40)
    row = session_bytes(_session(first, second), layers="l7", n_bytes=9)
    assert bytes(row) == b"abcdefg\x00\x00"


def test_rows_are_cut_at_n_bytes():
    packet = Packet(0.0, bytes(40) + bytes(range(100)), 0, 20, 40)
    row = session_bytes(_session(packet), n_bytes=16)
    assert bytes(row) == bytes(range(16))


def test_all_layers_zero_addresses_but_not_the_rest():
    data = bytes(range(1, 61))
    packet = Packet(0.0, data, 14, 34, 54, address_spans=((0, 12), (26, 34)),
                    port_spans=((34, 38),))
    row = session_bytes(_session(packet), layers="all", n_bytes=64)
    expected = bytearray(data) + bytearray(4)
    expected[0:12] = bytes(12)
    expected[26:34] = bytes(8)
    assert bytes(row) == bytes(expected)

    row = session_bytes(_session(packet), layers="all", n_bytes=64,
                        anonymize=False)
    assert bytes(row[:60]) == data

    row = session_bytes(_session(packet), layers="all", n_bytes=64,
                        anonymize_ports=True)
    assert bytes(row[34:38]) == bytes(4)


def test_ip_layer_starts_at_network_header_and_shifts_spans():
    data = bytes(range(1, 61))
    packet = Packet(0.0, data, 14, 34, 54, address_spans=((0, 12), (26, 34)))
    row = session_bytes(_session(packet), layers="ip", n_bytes=49)
    expected = bytearray(data[14:]) + bytearray(3)
    expected[12:20] = bytes(8)  # IPv4 source and destination
    assert bytes(row) == bytes(expected)


def test_transform_sessions_from_a_real_capture_file(http_capture):
    path, request, reply = http_capture
    sessions = read_sessions(path)
    assert len(sessions) == 1
    rows = PcapImageTransformer().fit_transform(sessions)
    assert rows.shape == (1, 784) and rows.dtype == np.uint8
    payload = b"GET / HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
    assert bytes(rows[0, :len(payload)]) == payload
    assert not rows[0, len(payload):].any()

    rows = PcapImageTransformer(layers="all", anonymize=False).transform(sessions)
    # No pcap file or record header: the row starts with the Ethernet frame.
    assert bytes(rows[0, :len(request)]) == request
    assert bytes(rows[0, len(request):len(request) + len(reply)]) == reply

    rows = PcapImageTransformer(layers="all").transform(sessions)
    assert not rows[0, :12].any()  # MAC addresses
    assert not rows[0, 26:34].any()  # IPv4 addresses
    assert bytes(rows[0, 12:14]) == b"\x08\x00"


def test_a_capture_path_is_one_sample(http_capture, tmp_path):
    path, _, _ = http_capture
    empty = tmp_path / "empty.pcap"
    wrpcap(str(empty), [])
    rows = PcapImageTransformer().transform([path, str(empty), path])
    assert rows.shape == (3, 784)
    assert bytes(rows[0, :14]) == b"GET / HTTP/1.1"
    assert not rows[1].any()
    np.testing.assert_array_equal(rows[0], rows[2])
    with pytest.raises(ValueError, match="a folder is not one capture"):
        PcapImageTransformer().transform([path, tmp_path])


def test_float32_output_is_scaled():
    packet = Packet(0.0, bytes(40) + b"\xff\x80", 0, 20, 40)
    rows = PcapImageTransformer(n_bytes=4, dtype="float32").transform(
        [_session(packet)])
    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows[0], [1.0, 128 / 255, 0, 0])


@pytest.mark.parametrize("n_bytes", [0, 783, 10])
def test_n_bytes_must_be_a_positive_square(n_bytes):
    with pytest.raises(ValueError, match="n_bytes"):
        PcapImageTransformer(n_bytes=n_bytes).fit()


def test_bad_items_are_named():
    with pytest.raises(TypeError, match="single item"):
        PcapImageTransformer().transform("a.pcap")
    with pytest.raises(TypeError, match="int"):
        PcapImageTransformer().transform([3])
    with pytest.raises(ValueError, match="layers"):
        PcapImageTransformer(layers="l4").fit()


def test_clone_keeps_params():
    transformer = PcapImageTransformer(layers="all", n_bytes=1024,
                                       anonymize=False)
    assert clone(transformer).get_params() == transformer.get_params()
    assert PcapImageTransformer().__sklearn_tags__().requires_fit is False
    names = PcapImageTransformer(n_bytes=4).get_feature_names_out()
    assert list(names) == ["byte0", "byte1", "byte2", "byte3"]


def test_pseudonyms_are_keyed_and_consistent(http_capture, tmp_path):
    path, request, _ = http_capture
    other = tmp_path / "other.pcap"
    # The same client in another capture, talking to another server.
    wrpcap(str(other), [_ether_tcp(b"x", dst="10.0.0.3")])
    sessions = list(read_sessions(path)) + list(read_sessions(other))
    transformer = PcapImageTransformer(layers="all", anonymize="pseudonym",
                                       key="secret")
    rows = transformer.fit_transform(sessions)
    client_first, client_second = rows[0, 26:30], rows[1, 26:30]
    assert bytes(client_first) == bytes(client_second)
    assert bytes(client_first) not in (b"\x0a\x00\x00\x01", bytes(4))
    assert bytes(rows[0, 30:34]) != bytes(rows[1, 30:34])  # two servers
    assert bytes(rows[0, 0:6]) != bytes.fromhex("02000000000b")  # MAC replaced
    # Only address fields change: the rest of the frame is the original.
    assert bytes(rows[0, 12:26]) == request[12:26]

    other_key = PcapImageTransformer(layers="all", anonymize="pseudonym",
                                     key=b"another").fit_transform(sessions)
    assert bytes(other_key[0, 26:30]) != bytes(client_first)
    again = transformer.transform(sessions[1:])
    np.testing.assert_array_equal(again[0], rows[1])

    with pytest.raises(ValueError, match="needs a secret key"):
        PcapImageTransformer(anonymize="pseudonym").fit()
