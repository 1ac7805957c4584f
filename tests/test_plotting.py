"""Figures: confusion matrix, per-class bars, a session's image regions."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from skfocal import PcapImageTransformer, read_sessions  # noqa: E402
from skfocal import plotting  # noqa: E402
from skfocal.datasets import make_capture  # noqa: E402
from skfocal.plotting import (  # noqa: E402
    plot_class_scores,
    plot_confusion_matrix,
    plot_session_image,
    session_regions,
)
from skfocal.reports import class_report  # noqa: E402


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    path = tmp_path_factory.mktemp("plots") / "s.pcap"
    y = make_capture(path, n_sessions=10, random_state=1)
    return read_sessions(path), y


def test_all_is_sorted():
    assert list(plotting.__all__) == sorted(plotting.__all__)


def test_confusion_matrix_writes_counts_in_label_order():
    ax = plot_confusion_matrix(["b", "a", "a", "c"], ["b", "a", "b", "c"],
                               labels=["c", "b", "a"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "b", "a"]
    # Diagonal cells always show; off-diagonal ones only when not zero.
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1", "1", "1"]
    image = ax.images[0].get_array()
    assert image[2, 2] == 0.5 and image[2, 1] == 0.5  # row-normalised


def test_class_scores_one_bar_per_setting_and_class():
    reports = {"a": class_report([0, 0, 1], [0, 1, 1]),
               "b": class_report([0, 0, 1], [0, 0, 1])}
    axes = plot_class_scores(reports)
    assert len(axes) == 3 and all(len(ax.patches) == 4 for ax in axes)
    assert [p.get_height() for p in axes[1].patches] == [0.5, 1.0, 1.0, 1.0]
    results = [{"setting": k, "report": v} for k, v in reports.items()]
    assert len(plot_class_scores(results, metrics=["f1"])) == 1
    with pytest.raises(ValueError, match="metrics must be"):
        plot_class_scores(reports, metrics=["auc"])


@pytest.mark.parametrize("layers", ["all", "ip", "l7"])
def test_regions_tile_the_row_and_match_the_transformer(sessions, layers):
    for session in sessions[0]:
        regions = session_regions(session, layers=layers, n_bytes=784)
        assert regions[0][0] == 0 and regions[-1][1] == 784
        assert all(a[1] == b[0] for a, b in zip(regions, regions[1:]))
        row = PcapImageTransformer(layers=layers, anonymize=False).fit_transform(
            [session])[0]
        for start, stop, kind, packet in regions:
            if kind == "padding":
                assert not row[start:stop].any()
        if layers == "l7":
            assert {kind for *_, kind, _ in regions} <= {"payload", "padding"}


def test_ethernet_ipv4_regions_have_header_sizes(sessions):
    session = next(s for s in sessions[0] if s.protocol == 17 and "." in s.src)
    kinds = session_regions(session)[:3]
    assert [(stop - start, kind) for start, stop, kind, _ in kinds] == [
        (14, "link"), (20, "network"), (8, "transport")]


def test_session_image_shows_the_transformer_bytes(sessions):
    session = sessions[0][0]
    ax = plot_session_image(session, layers="l7")
    assert ax.images[0].get_array().shape == (28, 28, 4)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["payload", "padding"]
    with pytest.raises(ValueError, match="square number"):
        plot_session_image(session, n_bytes=100 + 1)
