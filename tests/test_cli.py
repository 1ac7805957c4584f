"""The skfocal command on small captures and on the shared real data."""

import csv
import json

import numpy as np
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from skfocal.cli import main
from skfocal.datasets import make_capture

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


@pytest.mark.parametrize("argv, message", [
    # Errors raised by the library's checks, not by the command's own.
    (["extract", "CAPTURE", "--n-bytes", "783", "-o", "o.npz"],
     "n_bytes must be a square number"),
    (["extract", "CAPTURE", "-o", "nowhere/o.npz"], "output's folder does not exist"),
    (["extract", "CAPTURE", "--labels", "CAPTURE", "-o", "o.npz"],
     "is not UTF-8 text; a CSV file is accepted"),
    (["extract", "CAPTURE", "--labels", "TEXT", "-o", "o.npz"], "lacks the columns"),
    (["extract", "EMPTY", "-o", "o.npz"], "holds no file"),
    (["extract", "JUNK", "-o", "o.npz"], "nothing to write: no capture could be read"),
    (["extract", "CAPTURE", "--labels", "OTHER_TABLE", "-o", "o.npz"],
     "nothing to write: no session matched a row of the flow table"),
    (["split", "CAPTURE", "-o", "CAPTURE"], "File exists"),
    (["compare", "DATA", "--alphas", "1.5", "-o", "out"], "'alpha' parameter"),
    (["compare", "DATA", "--cv", "1", "-o", "out"], "--cv must be 2 or more"),
    (["compare", "DATA", "--test-size", "2", "-o", "out"], "--test-size must be"),
])
def test_library_errors_are_one_line_and_exit_2(argv, message, labelled_capture,
                                                tmp_path, monkeypatch, capsys):
    capture, _ = labelled_capture
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.pcap").write_bytes(b"junk")
    (tmp_path / "text.csv").write_text("a,b\n1,2\n")
    (tmp_path / "other.csv").write_text(
        HEADER + "other.pcap,TCP,10.0.0.1,1000,10.0.0.2,80,True,HTTP,HTTP,Web\n")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", X=rng.integers(0, 255, (40, 784)),
             y=np.array(["a", "b"] * 20))
    names = {"CAPTURE": str(capture), "EMPTY": "empty", "JUNK": "junk.pcap",
             "OTHER_TABLE": "other.csv", "DATA": "data.npz", "TEXT": "text.csv"}
    argv = [names.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"skfocal {argv[0]}: error: ") and err.count("\n") == 1
    assert message in err
    assert not (tmp_path / "o.npz").exists()


def test_extract_names_the_file_numpy_writes(labelled_capture, tmp_path, capsys):
    capture, _ = labelled_capture
    assert main(["extract", str(capture), "-o", str(tmp_path / "rows")]) == 0
    assert (tmp_path / "rows.npz").exists()
    assert f"to {tmp_path / 'rows.npz'}" in capsys.readouterr().out


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
    for figure in ["class_f1.png", "confusion_matrix.png"]:
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
    assert "confusion matrix of the best setting" in printed


COMMANDS = ["split", "extract", "compare", "train", "evaluate", "predict", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_carries_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert f"example:\n  skfocal {command}" in capsys.readouterr().out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A synthetic capture, extracted, and a model trained on it (1 epoch)."""
    folder = tmp_path_factory.mktemp("cli")
    capture, flows = folder / "synthetic.pcap", folder / "flows.csv"
    make_capture(capture, n_sessions=80, weights=[0.4, 0.3, 0.1, 0.1, 0.1],
                 flows=flows, random_state=0)
    data, model = folder / "data.npz", folder / "model.keras"
    assert main(["extract", str(capture), "--labels", str(flows),
                 "--label-column", "app", "-o", str(data)]) == 0
    assert main(["train", str(data), "-o", str(model), "--epochs", "1",
                 "--batch-size", "256", "-q"]) == 0
    return {"folder": folder, "capture": capture, "data": data, "model": model}


def test_train_writes_a_loadable_model_and_a_summary(synthetic):
    from skfocal import FocalCNNClassifier

    clf = FocalCNNClassifier.load(synthetic["model"])
    assert list(clf.classes_) == ["DNS", "HTTP", "NTP", "SSH", "TLS"]
    assert clf.alpha == "improved" and clf.epochs == 1
    summary = json.loads((synthetic["folder"] / "model.json").read_text())
    assert summary["n_samples"] == 80 and summary["n_bytes"] == 784
    assert summary["classes"] == {"DNS": 32, "HTTP": 24, "NTP": 8, "SSH": 8,
                                  "TLS": 8}
    assert summary["extraction"]["layers"] == "l7"


def test_evaluate_writes_report_and_figures(synthetic, capsys):
    out = synthetic["folder"] / "evaluation"
    assert main(["evaluate", str(synthetic["model"]), str(synthetic["data"]),
                 "-o", str(out)]) == 0
    assert "| NTP |" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())["report"]
    assert report["classes"]["DNS"]["support"] == 32
    assert "| SSH |" in (out / "report.md").read_text()
    for figure in ["confusion_matrix.png", "class_scores.png"]:
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"


def test_predict_writes_one_row_per_session(synthetic, capsys):
    out = synthetic["folder"] / "predictions.csv"
    assert main(["predict", str(synthetic["model"]), str(synthetic["capture"]),
                 "-o", str(out)]) == 0
    assert "layers='l7'" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 80
    assert list(rows[0]) == ["capture", "protocol", "src", "sport", "dst",
                             "dport", "predicted", "probability"]
    assert {row["predicted"] for row in rows} <= {"DNS", "HTTP", "NTP", "SSH",
                                                 "TLS"}
    assert all(0 < float(row["probability"]) <= 1 for row in rows)
    assert {row["protocol"] for row in rows} == {"TCP", "UDP"}


@pytest.mark.shared_data
def test_predict_real_captures(synthetic, ndpi_dir, ustc_dir, tmp_path):
    out = tmp_path / "real.csv"
    captures = [ndpi_dir / "pcap" / "1kxun.pcap", ustc_dir / "Facetime.pcap"]
    assert main(["predict", str(synthetic["model"]), *map(str, captures),
                 "--layers", "all", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert {row["capture"].rsplit("/", 1)[-1] for row in rows} == {
        "1kxun.pcap", "Facetime.pcap"}


@pytest.mark.shared_data
def test_evaluate_and_train_on_real_extracted_sessions(ndpi_dir, tmp_path,
                                                       synthetic):
    data = tmp_path / "ndpi.npz"
    pcaps = ndpi_dir / "pcap"
    assert main(["extract", str(pcaps / "1kxun.pcap"), str(pcaps / "dns.pcap"),
                 "--labels", str(ndpi_dir / "flows.csv"), "-o", str(data)]) == 0
    y = np.load(data)["y"]
    assert len(set(y)) >= 2
    model = tmp_path / "ndpi.keras"
    assert main(["train", str(data), "-o", str(model), "--epochs", "1",
                 "--alpha", "none", "--gamma", "0", "-q"]) == 0
    assert main(["evaluate", str(model), str(data), "-o",
                 str(tmp_path / "eval")]) == 0
    assert (tmp_path / "eval" / "confusion_matrix.png").exists()


@pytest.mark.parametrize("argv, message", [
    (["train", "DATA", "-o", "model.h5"], "must end in .keras"),
    (["train", "nope.npz", "-o", "m.keras"], "no such data file"),
    (["evaluate", "nope.keras", "DATA", "-o", "out"], "no such"),
    (["predict", "MODEL", "nope.pcap", "-o", "p.csv"], "no such capture"),
    (["demo", "--n-sessions", "3", "-o", "OUT"], "--n-sessions must be from 50"),
])
def test_bad_input_of_new_commands(argv, message, synthetic, tmp_path, capsys,
                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [{"DATA": str(synthetic["data"]), "MODEL": str(synthetic["model"]),
             "OUT": str(tmp_path / "demo")}.get(a, a) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"skfocal {argv[0]}: error: ") and err.count("\n") == 1
    assert message in err


def test_a_junk_model_is_one_line(synthetic, tmp_path, capsys):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    assert main(["evaluate", str(junk), str(synthetic["data"]), "-o",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "is not a model from 'skfocal train'" in err and err.count("\n") == 1


def test_demo_needs_no_shared_data(tmp_path, monkeypatch, capsys):
    # Run from an empty folder: nothing beside it, no ../shared.
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "-o", "demo", "--n-sessions", "100", "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    for step in range(1, 6):
        assert f"== step {step}/5" in printed
    out = tmp_path / "demo"
    for name in ["synthetic.pcap", "flows.csv", "model.keras", "model.json",
                 "sessions.png", "evaluation/confusion_matrix.png",
                 "evaluation/report.md"]:
        assert (out / name).exists(), name


def test_split_writes_one_readable_capture_per_session(labelled_capture, tmp_path,
                                                      capsys):
    from skfocal import read_sessions

    capture, _ = labelled_capture
    out = tmp_path / "sessions"
    assert main(["split", str(capture), "-o", str(out)]) == 0
    assert "wrote 3 session captures" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        "small.TCP_10.0.0.1_1000_10.0.0.2_80.pcap",
        "small.TCP_10.0.0.1_2000_10.0.0.3_22.pcap",
        "small.UDP_10.0.0.1_5353_10.0.0.9_53.pcap",
    ]
    packets = [read_sessions(f, unit="capture")[0].n_packets for f in files]
    assert packets == [2, 1, 1]
    assert main(["split", str(tmp_path / "none.pcap"), "-o", str(out)]) == 2


@pytest.mark.shared_data
def test_split_a_real_capture(ustc_dir, tmp_path, capsys):
    from skfocal import read_sessions

    capture = ustc_dir / "Tinba.pcap"
    assert main(["split", str(capture), "-o", str(tmp_path)]) == 0
    sessions = read_sessions(capture)
    files = list(tmp_path.glob("*.pcap"))
    printed = capsys.readouterr().out
    wrote = next(line for line in printed.splitlines() if line.startswith("wrote"))
    assert len(files) == len(sessions) == int(wrote.split()[1])
    assert sum(s.n_packets for s in sessions) == sessions.stats.packets_used
    # What the files leave out is said, by reason.
    stats = sessions.stats
    assert (f"{stats.packets_read} packets: {stats.packets_used} used, "
            f"{sum(stats.packets_skipped.values())} skipped") in printed
    assert "skipped 1492 packets: not tcp/udp" in printed
