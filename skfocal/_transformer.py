"""PcapImageTransformer: sessions or capture files to rows of image bytes."""

import hashlib
import hmac
import math
import os
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from skfocal.capture import Session, read_sessions

__all__ = ["PcapImageTransformer", "session_bytes"]


def _pseudonym(key, field, cache):
    """A keyed stand-in of ``field``'s length: equal fields, equal stand-ins."""
    stand_in = cache.get(field)
    if stand_in is None:
        digest = b""
        counter = 0
        while len(digest) < len(field):  # MAC 6, IPv4 4, IPv6 16 bytes
            digest += hmac.new(key, bytes([counter]) + field, hashlib.sha256).digest()
            counter += 1
        stand_in = cache[field] = digest[: len(field)]
    return stand_in


def session_bytes(session, *, layers="l7", n_bytes=784, anonymize=True,
                  anonymize_ports=False, key=None, _cache=None):
    """Return the first ``n_bytes`` bytes of a session, zero-padded.

    Parameters
    ----------
    session : Session
        A session from :func:`skfocal.read_sessions`.
    layers : {'l7', 'ip', 'all'}, default='l7'
        Where each packet's bytes start: the transport payload, the network
        header, or the link-layer header.
    n_bytes : int, default=784
        Length of the returned row.
    anonymize : bool or 'pseudonym', default=True
        True zeroes the MAC and IP address fields; ``'pseudonym'`` replaces
        each by a keyed pseudonym (HMAC-SHA256 of the field under ``key``,
        cut to the field's length), equal for equal addresses whatever the
        capture.
    anonymize_ports : bool, default=False
        Treat the transport ports the same way.
    key : bytes or str, default=None
        The secret of ``anonymize='pseudonym'``.

    Returns
    -------
    row : ndarray of shape (n_bytes,), dtype=uint8
        The packets' bytes concatenated in capture order, cut at
        ``n_bytes`` and zero-padded.

    Examples
    --------
    >>> from skfocal import Packet, Session
    >>> payload = b"GET / HTTP/1.1"
    >>> data = bytes(20) + bytes(20) + payload  # IPv4 + TCP headers, payload
    >>> packet = Packet(0.0, data, 0, 20, 40)
    >>> s = Session("a.pcap", 6, "10.0.0.1", 1, "10.0.0.2", 80, 0.0, 1, 54,
    ...             (packet,))
    >>> bytes(session_bytes(s, n_bytes=16))
    b'GET / HTTP/1.1\\x00\\x00'
    """
    pseudonyms = anonymize == "pseudonym"
    if pseudonyms:
        if not key:
            raise ValueError(
                "anonymize='pseudonym' needs a secret key (bytes or str); "
                f"received key={key!r}."
            )
        key = key.encode() if isinstance(key, str) else bytes(key)
        cache = {} if _cache is None else _cache
    # Bytes objects and one bytearray: numpy per packet would cost more in
    # call overhead than the copying it does.
    row = bytearray(n_bytes)
    filled = 0
    for packet in session.packets:
        if filled >= n_bytes:
            break
        if layers == "l7":
            start = packet.payload_offset
        elif layers == "ip":
            start = packet.network_offset
        else:
            start = 0
        data = packet.data
        take = len(data) - start
        if take > n_bytes - filled:
            take = n_bytes - filled
        if take <= 0:
            continue
        row[filled : filled + take] = data[start : start + take]
        # Address and port fields lie in the headers, before the payload:
        # a row that starts at the payload has none of them.
        if (anonymize or anonymize_ports) and start < packet.payload_offset:
            spans = packet.address_spans if anonymize else ()
            if anonymize_ports:
                spans = tuple(spans) + tuple(packet.port_spans)
            for lo, hi in spans:
                field = data[lo:hi] if pseudonyms else None
                # Spans index the packet from the link layer; the row takes it
                # from ``start``, and a span before that simply falls away.
                cut = start - lo if lo < start else 0
                hi -= start
                if hi <= 0:
                    continue
                lo = lo - start if lo > start else 0
                if hi > take:
                    hi = take
                if hi <= lo:
                    continue
                if pseudonyms:
                    stand_in = _pseudonym(key, field, cache)
                    row[filled + lo : filled + hi] = stand_in[cut : cut + hi - lo]
                else:
                    row[filled + lo : filled + hi] = bytes(hi - lo)
        filled += take
    return np.frombuffer(row, dtype=np.uint8)


class PcapImageTransformer(TransformerMixin, BaseEstimator):
    """Turn sessions or capture files into rows of image bytes.

    A stateless transformer: each input item becomes one row holding the
    first ``n_bytes`` bytes of its packets, concatenated in capture order and
    zero-padded. A row of 784 bytes is a 28x28 grayscale image. Pcap file
    and record headers never enter a row.

    Parameters
    ----------
    layers : {'l7', 'ip', 'all'}, default='l7'
        Where each packet's bytes start. ``'l7'`` keeps the transport
        payload only, ``'ip'`` starts at the network header and ``'all'`` at
        the link-layer header.
    n_bytes : int, default=784
        Bytes per row; a square number, so that rows can be shown and
        convolved as square images.
    anonymize : bool or 'pseudonym', default=True
        True zeroes the MAC and IP address fields, so that a model cannot
        learn the hosts of one capture instead of the traffic.
        ``'pseudonym'`` replaces each address by a keyed pseudonym (see
        ``key``): hosts stay distinguishable and consistent across captures,
        but their real addresses are gone.
    anonymize_ports : bool, default=False
        Anonymise the transport ports too (zeroed, or pseudonyms with
        ``anonymize='pseudonym'``).
    dtype : {'uint8', 'float32'}, default='uint8'
        ``'uint8'`` returns raw bytes; ``'float32'`` returns them scaled to
        [0, 1].
    key : str or bytes, default=None
        Secret of ``anonymize='pseudonym'``: one key gives the same
        pseudonym to one address in every capture and every run. Keep it
        secret; whoever has it can test guesses of the real addresses.

    See Also
    --------
    skfocal.read_sessions : Read captures into sessions.

    Examples
    --------
    >>> from skfocal import Packet, Session, PcapImageTransformer
    >>> packet = Packet(0.0, bytes(40) + b"hello", 0, 20, 40)
    >>> s = Session("a.pcap", 6, "10.0.0.1", 1, "10.0.0.2", 80, 0.0, 1, 45,
    ...             (packet,))
    >>> rows = PcapImageTransformer(n_bytes=16).fit_transform([s, s])
    >>> rows.shape, rows.dtype
    ((2, 16), dtype('uint8'))
    >>> bytes(rows[0, :5])
    b'hello'
    """

    _parameter_constraints = {
        "layers": [StrOptions({"l7", "ip", "all"})],
        "n_bytes": [Interval(Integral, 1, None, closed="left")],
        "anonymize": ["boolean", StrOptions({"pseudonym"})],
        "anonymize_ports": ["boolean"],
        "key": [None, str, bytes],
        "dtype": [StrOptions({"uint8", "float32"})],
    }

    def __init__(self, *, layers="l7", n_bytes=784, anonymize=True,
                 anonymize_ports=False, dtype="uint8", key=None):
        self.layers = layers
        self.n_bytes = n_bytes
        self.anonymize = anonymize
        self.anonymize_ports = anonymize_ports
        self.key = key
        self.dtype = dtype

    def _check_params(self):
        self._validate_params()
        if self.anonymize == "pseudonym" and not self.key:
            raise ValueError(
                "anonymize='pseudonym' needs a secret key: set key to a "
                f"non-empty str or bytes. Received: key={self.key!r}"
            )
        side = math.isqrt(self.n_bytes)
        if side * side != self.n_bytes:
            raise ValueError(
                "n_bytes must be a square number (784 = 28x28, 1024 = 32x32, "
                f"...). Received: n_bytes={self.n_bytes!r}"
            )

    def fit(self, X=None, y=None):
        """Check the parameters; the transformer learns nothing.

        Parameters
        ----------
        X : sequence of Session or path-like, default=None
            Ignored.
        y : None
            Ignored.

        Returns
        -------
        self : PcapImageTransformer
            The transformer.
        """
        self._check_params()
        return self

    def transform(self, X):
        """Turn each session or capture file into one row of bytes.

        Parameters
        ----------
        X : sequence of Session or path-like
            Sessions from :func:`skfocal.read_sessions`, or capture files.
            A capture file is one sample: its TCP and UDP packets in capture
            order, the way the per-session files of USTC-TK2016 are used.

        Returns
        -------
        rows : ndarray of shape (n_samples, n_bytes)
            ``uint8`` bytes, or ``float32`` in [0, 1] when
            ``dtype='float32'``.
        """
        self._check_params()
        if isinstance(X, (str, bytes, os.PathLike, Session)):
            raise TypeError(
                "X must be a sequence of sessions or capture paths, not a "
                f"single item. Received: {type(X).__name__}; wrap it in a list."
            )
        sessions = []
        for item in X:
            if isinstance(item, Session):
                sessions.append(item)
            elif isinstance(item, (str, os.PathLike)):
                if os.path.isdir(item):
                    raise ValueError(
                        "X must hold capture files, each one sample; a folder "
                        "is not one capture. Received the folder "
                        f"{os.fspath(item)!r}; pass its files, or the sessions "
                        "read_sessions reads from it."
                    )
                read = read_sessions(item, unit="capture", max_bytes=self.n_bytes,
                                     on_error="raise")
                # An empty capture is still one sample: an all-zero row.
                sessions.append(read[0] if read else Session(
                    os.fspath(item), None, None, None, None, None, 0.0, 0, 0))
            else:
                raise TypeError(
                    "X must hold Session objects or capture paths. "
                    f"Received an item of type {type(item).__name__}."
                )

        rows = np.zeros((len(sessions), self.n_bytes), dtype=np.uint8)
        cache = {}  # address -> pseudonym, for this call
        for i, session in enumerate(sessions):
            rows[i] = session_bytes(
                session, layers=self.layers, n_bytes=self.n_bytes,
                anonymize=self.anonymize, anonymize_ports=self.anonymize_ports,
                key=self.key, _cache=cache,
            )
        if self.dtype == "float32":
            return rows.astype(np.float32) / np.float32(255)
        return rows

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``byte0``, ``byte1``, ...

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        names : ndarray of str of shape (n_bytes,)
            One name per byte of a row.
        """
        return np.asarray([f"byte{i}" for i in range(self.n_bytes)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
