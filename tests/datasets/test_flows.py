"""Joining sessions to a flow table, on made-up rows and on nDPI's."""

import numpy as np
import pytest

from skfocal import Session, SessionList
from skfocal.datasets import label_sessions, load_labelled_captures

HEADER = "pcap,transport,src,sport,dst,dport,bidirectional,master,app,category\n"


def _session(capture, protocol, src, sport, dst, dport, t=0.0):
    return Session(capture, protocol, src, sport, dst, dport, t, 1, 60)


def test_rows_match_by_unordered_endpoints_and_transport(tmp_path):
    table = tmp_path / "flows.csv"
    table.write_text(
        HEADER
        + "a.pcap,TCP,10.0.0.1,1000,10.0.0.2,80,True,HTTP,HTTP,Web\n"
        + "a.pcap,UDP,10.0.0.1,53000,10.0.0.9,53,True,DNS,DNS,Network\n"
        + "b.pcap,UDP,2001:db8:0:0::1,5000,2001:db8::2,443,True,QUIC,QUIC,Web\n"
        + "a.pcap,TCP,10.0.0.7,1,10.0.0.8,2,True,TLS,TLS,Web\n"
        + "c.pcap,TCP,10.0.0.1,1,10.0.0.2,2,True,TLS,TLS,Web\n"
        + "a.pcap,SCTP,10.0.0.1,1,10.0.0.2,2,True,S1AP,S1AP,Network\n"
    )
    sessions = SessionList([
        # The server spoke first here: the pair is the same, reversed.
        _session("/x/a.pcap", 6, "10.0.0.2", 80, "10.0.0.1", 1000),
        # Same endpoints as the DNS row but TCP: no match.
        _session("/x/a.pcap", 6, "10.0.0.1", 53000, "10.0.0.9", 53),
        _session("/x/a.pcap", 17, "10.0.0.9", 53, "10.0.0.1", 53000),
        _session("/y/b.pcap", 17, "2001:db8::1", 5000, "2001:db8::2", 443),
    ])
    X, y, groups = label_sessions(sessions, table)
    assert [s.sport for s in X] == [80, 53, 5000]
    assert list(y) == ["Web", "Network", "Web"]
    assert list(groups) == ["/x/a.pcap", "/x/a.pcap", "/y/b.pcap"]
    report = X.labelling
    assert (report.rows, report.rows_matched) == (4, 3)
    assert (report.sessions_labelled, report.sessions_unlabelled) == (3, 1)
    assert report.unmatched_rows[0]["src"] == "10.0.0.7"
    # Rows that could not match are counted apart, not lost.
    assert (report.rows_elsewhere, report.rows_other_transport) == (1, 1)
    assert "1 rows of captures that gave no session" in report.summary()

    _, y_app, _ = label_sessions(sessions, table, label_column="master")
    assert list(y_app) == ["HTTP", "DNS", "QUIC"]


def test_a_reused_port_is_paired_in_time_order(tmp_path):
    table = tmp_path / "flows.csv"
    table.write_text(
        HEADER
        + "a.pcap,TCP,10.0.0.1,1000,10.0.0.2,80,True,HTTP,HTTP,Web\n"
        + "a.pcap,TCP,10.0.0.1,1000,10.0.0.2,80,True,TLS,TLS,Chat\n"
    )
    sessions = [_session("a.pcap", 6, "10.0.0.1", 1000, "10.0.0.2", 80, t=5.0),
                _session("a.pcap", 6, "10.0.0.1", 1000, "10.0.0.2", 80, t=1.0)]
    X, y, _ = label_sessions(sessions, table)
    assert [s.first_time for s in X] == [5.0, 1.0]
    assert list(y) == ["Chat", "Web"]
    assert X.labelling.ambiguous == 1


def test_missing_columns_are_named(tmp_path):
    table = tmp_path / "flows.csv"
    table.write_text("pcap,src,dst\n")
    with pytest.raises(ValueError, match=r"lacks the columns \['transport'"):
        label_sessions([], table)


@pytest.mark.shared_data
def test_ndpi_captures_are_mostly_labelled(ndpi_dir):
    X, y, groups = load_labelled_captures(ndpi_dir / "pcap", ndpi_dir / "flows.csv")
    report = X.labelling
    # kerberos_fuzz.pcapng holds one malformed packet and so no session.
    assert report.rows >= 5400
    # A reader built on scapy's dissection matches 99.6% of the rows.
    assert report.match_rate >= 0.95, report.summary()
    assert len(X) == len(y) == len(groups) == report.sessions_labelled
    assert "Web" in set(y) and len(np.unique(groups)) > 300
    # Every row of the table is accounted for.
    with open(ndpi_dir / "flows.csv") as f:
        n_rows = sum(1 for _ in f) - 1
    assert report.rows + report.rows_elsewhere + report.rows_other_transport \
        == n_rows
