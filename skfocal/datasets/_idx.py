"""Read MNIST-format (idx) image and label files, gzipped or not."""

import gzip
import os
import struct

import numpy as np

__all__ = ["ISCX_VPN2016_CLASSES", "load_idx", "load_iscx_vpn2016"]

# Label order of the ISCX VPN-nonVPN 2016 12-class session set (Wang et al.).
ISCX_VPN2016_CLASSES = (
    "Chat", "Email", "File", "P2p", "Streaming", "Voip",
    "Vpn_Chat", "Vpn_Email", "Vpn_File", "Vpn_P2p", "Vpn_Streaming", "Vpn_Voip",
)

_IDX_IMAGES, _IDX_LABELS = 0x00000803, 0x00000801


def _read_bytes(path):
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        return f.read()


def _parse_idx(path, expected_magic):
    data = _read_bytes(path)
    if len(data) < 8:
        raise ValueError(
            f"{os.fspath(path)!r} is not an idx file: it holds {len(data)} "
            "bytes, fewer than an idx header."
        )
    magic = struct.unpack_from(">i", data)[0]
    if magic != expected_magic:
        kind = "images" if expected_magic == _IDX_IMAGES else "labels"
        raise ValueError(
            f"{os.fspath(path)!r} is not an idx {kind} file: expected magic "
            f"{expected_magic:#010x}, received {magic:#010x}."
        )
    n_dims = magic & 0xFF
    dims = struct.unpack_from(f">{n_dims}i", data, 4)
    offset = 4 + 4 * n_dims
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(
            f"{os.fspath(path)!r} is truncated or padded: its header announces "
            f"{expected} data bytes {dims}, the file holds {len(data) - offset}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def load_idx(images_path, labels_path=None, *, flatten=True):
    """Load images (and labels) stored in the MNIST idx format.

    Files may be gzip-compressed or not; the content decides, not the name.

    Parameters
    ----------
    images_path : path-like
        An idx3 file of uint8 images (magic ``0x00000803``).
    labels_path : path-like, default=None
        An idx1 file of uint8 labels (magic ``0x00000801``).
    flatten : bool, default=True
        Return images as rows of shape (n_samples, rows * cols), the shape
        :class:`~skfocal.PcapImageTransformer` produces; otherwise as
        (n_samples, rows, cols).

    Returns
    -------
    X : ndarray of shape (n_samples, rows * cols) or (n_samples, rows, cols)
        The images, uint8.
    y : ndarray of shape (n_samples,)
        The labels, uint8. Only returned when ``labels_path`` is given.

    Examples
    --------
    >>> import gzip, struct, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "images.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(struct.pack(">iiii", 0x803, 2, 2, 2) + bytes(range(8)))
    >>> load_idx(path)
    array([[0, 1, 2, 3],
           [4, 5, 6, 7]], dtype=uint8)
    """
    X = _parse_idx(images_path, _IDX_IMAGES)
    if X.ndim != 3:
        raise ValueError(
            f"{os.fspath(images_path)!r} must hold 2-D images (3 dimensions in "
            f"all); it has {X.ndim} dimensions."
        )
    if flatten:
        X = X.reshape(len(X), -1)
    if labels_path is None:
        return X
    y = _parse_idx(labels_path, _IDX_LABELS)
    if len(y) != len(X):
        raise ValueError(
            f"{len(X)} images but {len(y)} labels: {os.fspath(images_path)!r} "
            f"and {os.fspath(labels_path)!r} do not belong together."
        )
    return X, y


def load_iscx_vpn2016(folder, *, return_names=True):
    """Load the ISCX VPN-nonVPN 2016 12-class sessions (L7, 784 bytes).

    The sessions as preprocessed by Wang et al. with USTC-TK2016: one
    gzipped idx pair ``train-images-idx3-ubyte.gz`` and
    ``train-labels-idx1-ubyte.gz`` in ``folder``.

    Parameters
    ----------
    folder : path-like
        The folder holding the idx pair.
    return_names : bool, default=True
        Return class names (``'Vpn_Email'``, ...) as labels instead of
        their integer codes.

    Returns
    -------
    X : ndarray of shape (n_samples, 784), dtype=uint8
        One session per row.
    y : ndarray of shape (n_samples,)
        Class names (object dtype) or integer codes.

    References
    ----------
    .. [1] G. Draper-Gil, A. H. Lashkari, M. Mamun and A. A. Ghorbani,
       "Characterization of encrypted and VPN traffic using time-related
       features", ICISSP 2016.
    .. [2] W. Wang, M. Zhu, J. Wang, X. Zeng and Z. Yang, "End-to-end
       encrypted traffic classification with one-dimensional convolution
       neural networks", ISI 2017.

    Examples
    --------
    >>> from skfocal.datasets import load_iscx_vpn2016
    >>> X, y = load_iscx_vpn2016(
    ...     "../shared/data/iscx-vpn2016-12class-session-l7")  # doctest: +SKIP
    >>> X.shape, y[0]  # doctest: +SKIP
    ((29193, 784), 'Chat')
    """
    folder = os.fspath(folder)
    X, y = load_idx(
        os.path.join(folder, "train-images-idx3-ubyte.gz"),
        os.path.join(folder, "train-labels-idx1-ubyte.gz"),
    )
    if return_names:
        names = np.asarray(ISCX_VPN2016_CLASSES, dtype=object)
        if y.max(initial=0) >= len(names):
            raise ValueError(
                f"Label codes must be below {len(names)} for the 12 ISCX "
                f"classes; received a code of {int(y.max())}."
            )
        y = names[y]
    return X, y
