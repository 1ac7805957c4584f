"""The skfocal command on small captures and on the shared real data."""

import json

import numpy as np
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from skfocal.cli import main

HEADER = "pcap,transport,src,sport,dst,dport,bidirectional,master,app,category\n"


@pytest.fixture
def labelled_capture(tmp_path):
    packets = [
        Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=1000, dport=80)
        / b"GET / HTTP/1.1\r\n\r\n",
        Ether() / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=1000)
        / b"HTTP/1.1 200 OK\r\n\r\n",
        Ether() / IP(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=5353, dport=53)
        / DNS(qd=DNSQR(qname="example.org")),
        Ether() / IP(src="10.0.0.1", dst="10.0.0.3") / TCP(sport=2000, dport=22)
        / b"SSH-2.0-OpenSSH_9.6\r\n",
    ]
    for i, packet in enumerate(packets):
        packet.time = 1_700_000_000 + i
    capture = tmp_path / "small.pcap"
    wrpcap(str(capture), packets)
    table = tmp_path / "flows.csv"
    table.write_text(
        HEADER
        + "small.pcap,TCP,10.0.0.1,1000,10.0.0.2,80,True,HTTP,HTTP,Web\n"
        + "small.pcap,UDP,10.0.0.1,5353,10.0.0.9,53,False,DNS,DNS,Network\n"
    )
    return capture, table


def test_extract_writes_rows_labels_and_five_tuples(labelled_capture, tmp_path,
                                                    capsys):
    capture, table = labelled_capture
    out = tmp_path / "out.npz"
    status = main(["extract", str(capture), "--labels", str(table), "-o", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "4 packets: 4 used, 0 skipped" in printed
    assert "3 sessions" in printed
    assert "2 of 2 labelled flows matched" in printed

    data = np.load(out)
    assert data["X"].shape == (2, 784) and data["X"].dtype == np.uint8
    assert list(data["y"]) == ["Web", "Network"]
    assert bytes(data["X"][0, :14]) == b"GET / HTTP/1.1"
    assert list(data["dport"]) == [80, 53]
    assert list(data["protocol"]) == [6, 17]
    assert all(g.endswith("small.pcap") for g in data["groups"])
    assert list(data["n_packets"]) == [2, 1]


def test_extract_without_labels_keeps_every_session(labelled_capture, tmp_path):
    capture, _ = labelled_capture
    out = tmp_path / "all.npz"
    assert main(["extract", str(capture), "--layers", "all", "-o", str(out)]) == 0
    data = np.load(out)
    assert data["X"].shape == (3, 784)
    assert not data["X"][:, :12].any()  # MAC addresses anonymised


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nope.pcap"), "-o", "x.npz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such capture" in err
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert main(["compare", str(tmp_path / "junk.npz"), "-o", str(tmp_path)]) == 2
    assert "is not an .npz" in capsys.readouterr().err


def test_compare_reports_each_setting(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 90
    y = np.array(["big"] * 50 + ["mid"] * 28 + ["rare"] * 12)
    X = rng.integers(0, 40, size=(n, 784), dtype=np.uint8)
    for i, label in enumerate(["big", "mid", "rare"]):
        X[y == label, i * 100:(i * 100) + 60] = 250
    data = tmp_path / "toy.npz"
    np.savez(data, X=X, y=y)
    out = tmp_path / "run"
    status = main(["compare", str(data), "--epochs", "1", "--cv", "2",
                   "--alphas", "0.25", "improved", "--baselines", "ros",
                   "-o", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    for name in ["cross-entropy", "focal α=0.25", "focal improved",
                 "ros + cross-entropy"]:
        assert f"### {name}" in printed
    assert "| rare |" in printed
    results = json.loads((out / "results.json").read_text())
    assert len(results["results"]) == 4
    for result in results["results"]:
        assert result["report"]["classes"]["rare"]["support"] in (2, 3)
        assert len(result["cv_macro_f1"]) == 2
    assert (out / "report.md").read_text().count("| rare |") == 4
