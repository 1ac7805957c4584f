"""load_idx and the ISCX loader on small files and on the real sessions."""

import gzip
import struct

import numpy as np
import pytest

from skfocal.datasets import ISCX_VPN2016_CLASSES, load_idx, load_iscx_vpn2016


def _write(path, magic, dims, data, compress):
    content = struct.pack(f">i{len(dims)}i", magic, *dims) + bytes(data)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(content)
    return path


@pytest.mark.parametrize("compress", [True, False])
def test_images_and_labels_round_trip(tmp_path, compress):
    images = _write(tmp_path / "img", 0x803, (3, 2, 2), range(12), compress)
    labels = _write(tmp_path / "lab", 0x801, (3,), [2, 0, 1], compress)
    X, y = load_idx(images, labels)
    assert X.dtype == np.uint8 and X.shape == (3, 4)
    np.testing.assert_array_equal(X[1], [4, 5, 6, 7])
    np.testing.assert_array_equal(y, [2, 0, 1])
    assert load_idx(images, flatten=False).shape == (3, 2, 2)


def test_bad_files_are_named(tmp_path):
    images = _write(tmp_path / "img", 0x803, (3, 2, 2), range(12), True)
    labels = _write(tmp_path / "lab", 0x801, (2,), [0, 1], True)
    with pytest.raises(ValueError, match=r"3 images but 2 labels"):
        load_idx(images, labels)
    with pytest.raises(ValueError, match=r"expected magic 0x00000803, received "
                                         r"0x00000801"):
        load_idx(labels)
    short = _write(tmp_path / "short", 0x803, (3, 2, 2), range(10), False)
    with pytest.raises(ValueError, match="truncated or padded.*12.*10"):
        load_idx(short)
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="not an idx file"):
        load_idx(tmp_path / "tiny")


@pytest.mark.shared_data
def test_real_iscx_sessions(iscx_dir):
    X, y = load_iscx_vpn2016(iscx_dir)
    assert X.shape == (29193, 784) and X.dtype == np.uint8
    names, counts = np.unique(y, return_counts=True)
    expected = [3139, 2068, 5400, 897, 1251, 5400, 3611, 262, 877, 402, 486, 5400]
    assert dict(zip(names, counts)) == dict(zip(ISCX_VPN2016_CLASSES, expected))
    X_codes, y_codes = load_iscx_vpn2016(iscx_dir, return_names=False)
    assert y_codes.dtype == np.uint8 and y_codes.max() == 11
