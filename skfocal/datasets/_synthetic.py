"""make_capture: a pcap of synthetic, protocol-faithful sessions with labels."""

import csv
import ipaddress
import os
import struct
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["make_capture"]

# Class labels, sorted: the order of ``weights`` given as a sequence.
CLASSES = ("DNS", "HTTP", "NTP", "SSH", "TLS")
# nDPI's category of each application, for the flow table.
_CATEGORIES = {
    "DNS": "Network", "HTTP": "Web", "NTP": "System",
    "SSH": "RemoteAccess", "TLS": "Web",
}
_FLOW_COLUMNS = ("pcap", "transport", "src", "sport", "dst", "dport",
                 "bidirectional", "master", "app", "category")
_MAX_SESSIONS = 40_000  # one client port per session, all distinct
_START_TIME = 1_700_000_000.0
_NTP_EPOCH = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)
_MSS = 1448

_DOMAINS = (
    "example.org", "www.example.com", "cdn.example.net", "mail.example.org",
    "api.example.com", "static.example.net", "login.example.org",
    "news.example.com", "video.example.net", "updates.example.org",
    "docs.example.com", "shop.example.net",
)
_PATHS = (
    "/", "/index.html", "/about", "/static/app.js", "/static/style.css",
    "/images/logo.png", "/api/v1/items", "/search?q=focal+loss",
    "/favicon.ico", "/news/2024/03/traffic",
)
_USER_AGENTS = (
    "curl/8.5.0", "Wget/1.21.4",
    "Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/123.0 Safari/537.36",
    "python-requests/2.31.0",
)
_SERVERS = ("nginx/1.24.0", "Apache/2.4.58 (Ubuntu)", "cloudflare", "gws")
_CONTENT_TYPES = ("text/html; charset=utf-8", "application/json",
                  "text/css", "application/javascript", "image/png")
_SSH_CLIENTS = ("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13", "SSH-2.0-PuTTY_Release_0.80",
                "SSH-2.0-libssh2_1.11.0", "SSH-2.0-OpenSSH_8.9p1")
_SSH_SERVERS = ("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13",
                "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u3", "SSH-2.0-dropbear_2022.83")
_SSH_NAME_LISTS = (
    "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256",
    "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512",
    "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
    "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
    "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
    "none,zlib@openssh.com", "none,zlib@openssh.com", "", "",
)
_TLS_SUITES = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030,
               0xCCA9, 0xCCA8, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)


def _check_weights(weights):
    """Return the class proportions as an array aligned with ``CLASSES``."""
    n = len(CLASSES)
    if weights is None:
        return np.full(n, 1 / n)
    if isinstance(weights, dict):
        unknown = sorted(set(weights) - set(CLASSES))
        if unknown:
            raise ValueError(
                f"weights must be keyed by the classes {list(CLASSES)}. "
                f"Received unknown keys: {unknown}"
            )
        weights = [weights.get(label, 0.0) for label in CLASSES]
    values = np.asarray(weights, dtype=float)
    if values.ndim != 1 or len(values) not in (n - 1, n):
        raise ValueError(
            f"weights must hold {n} proportions, one per class of {list(CLASSES)} "
            f"(or {n - 1}, the last class taking the rest), or a dict keyed by "
            f"class. Received: weights={weights!r}"
        )
    if len(values) == n - 1:
        values = np.append(values, 1 - values.sum())
    if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise ValueError(
            "weights must be finite, non-negative and not all zero. "
            f"Received: weights={weights!r}"
        )
    return values / values.sum()


def _class_counts(proportions, n_sessions):
    """Split ``n_sessions`` by ``proportions``, largest remainders first."""
    exact = proportions * n_sessions
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: n_sessions - counts.sum()]] += 1
    return counts


class _Writer:
    """Build the packets of one session between a client and a server."""

    def __init__(self, rng, client, server, start):
        self.rng = rng
        self.client, self.server = client, server
        self.time = start
        self.rtt = rng.uniform(0.004, 0.08)
        self.packets = []

    def _ip(self, sender, receiver):
        from scapy.layers.inet import IP
        from scapy.layers.inet6 import IPv6
        from scapy.layers.l2 import Ether

        link = Ether(src=sender["mac"], dst=receiver["mac"])
        if ":" in sender["ip"]:
            return link / IPv6(src=sender["ip"], dst=receiver["ip"],
                               hlim=sender["ttl"])
        return link / IP(src=sender["ip"], dst=receiver["ip"], ttl=sender["ttl"],
                         id=int(self.rng.integers(0, 65536)), flags="DF")

    def emit(self, packet, delay):
        self.time += delay
        # Built once here: scapy would copy and rebuild it again when writing.
        self.packets.append((round(self.time, 6), bytes(packet)))

    def udp(self, from_client, payload):
        from scapy.layers.inet import UDP

        a, b = ((self.client, self.server) if from_client
                else (self.server, self.client))
        delay = self.rtt / 2 if self.packets else 0.0
        self.emit(self._ip(a, b) / UDP(sport=a["port"], dport=b["port"]) / payload,
                  delay)

    def tcp(self, messages):
        """A handshake, each ``(from_client, payload)`` with its ACK, a close."""
        from scapy.layers.inet import TCP

        rng = self.rng
        seq = {"c": int(rng.integers(0, 2**32)), "s": int(rng.integers(0, 2**32))}
        clock = int(rng.integers(10**6, 2**31))

        def send(side, flags, payload=b"", options=None, delay=None):
            a, b = ((self.client, self.server) if side == "c"
                    else (self.server, self.client))
            other = "s" if side == "c" else "c"
            ack = seq[other] if "A" in flags else 0
            segment = TCP(sport=a["port"], dport=b["port"], flags=flags,
                          seq=seq[side] % 2**32, ack=ack % 2**32,
                          window=a["window"], options=options or [])
            packet = self._ip(a, b) / segment
            if payload:
                packet = packet / payload
            self.emit(packet, self.rtt / 2 if delay is None else delay)
            seq[side] += len(payload) + ("S" in flags) + ("F" in flags)

        options = [("MSS", _MSS + 12), ("SAckOK", b""),
                   ("Timestamp", (clock, 0)), ("NOP", None), ("WScale", 7)]
        send("c", "S", options=options, delay=0.0)
        send("s", "SA", options=[("MSS", _MSS + 12), ("SAckOK", b""),
                                 ("WScale", 9)])
        send("c", "A")
        for from_client, payload in messages:
            side = "c" if from_client else "s"
            for start in range(0, len(payload), _MSS):
                chunk = payload[start:start + _MSS]
                send(side, "PA" if start + _MSS >= len(payload) else "A", chunk,
                     delay=rng.uniform(0.0002, 0.002) if start else None)
            send("s" if from_client else "c", "A", delay=0.0005)
        send("c", "FA")
        send("s", "FA")
        send("c", "A")


def _dns(w, rng):
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    name = str(rng.choice(_DOMAINS))
    ident = int(rng.integers(0, 65536))
    qtype = "AAAA" if rng.random() < 0.3 else "A"
    w.udp(True, DNS(id=ident, rd=1, qd=DNSQR(qname=name, qtype=qtype)))
    if rng.random() < 0.1:
        w.udp(False, DNS(id=ident, qr=1, rd=1, ra=1, rcode=3,
                         qd=DNSQR(qname=name, qtype=qtype)))
        return
    answers = []
    for _ in range(int(rng.integers(1, 4))):
        if qtype == "A":
            address = str(ipaddress.IPv4Address(int(rng.integers(2**24, 2**31))))
        else:
            address = str(ipaddress.IPv6Address(
                (0x2001_0DB8 << 96) | int(rng.integers(0, 2**62))))
        answers.append(DNSRR(rrname=name, type=qtype, rdata=address,
                             ttl=int(rng.integers(30, 86400))))
    response = DNS(id=ident, qr=1, rd=1, ra=1, qd=DNSQR(qname=name, qtype=qtype),
                   an=answers)
    w.udp(False, response)


def _http_date(seconds):
    import email.utils

    return email.utils.formatdate(seconds, usegmt=True).encode()


def _http(w, rng):
    from scapy.layers.http import HTTP, HTTPRequest, HTTPResponse

    host = str(rng.choice(_DOMAINS)).encode()
    path = str(rng.choice(_PATHS)).encode()
    request = HTTP() / HTTPRequest(
        Method=b"GET", Path=path, Http_Version=b"HTTP/1.1", Host=host,
        User_Agent=str(rng.choice(_USER_AGENTS)).encode(), Accept=b"*/*",
        Connection=b"close",
    )
    status, reason = [(b"200", b"OK"), (b"200", b"OK"), (b"301", b"Moved"),
                      (b"404", b"Not Found")][int(rng.integers(0, 4))]
    size = int(rng.integers(60, 4000)) if status == b"200" else 40
    body = (b"<html><body>"
            + bytes(rng.integers(32, 127, size=size, dtype=np.uint8))
            + b"</body></html>\n")
    response = HTTP() / HTTPResponse(
        Http_Version=b"HTTP/1.1", Status_Code=status, Reason_Phrase=reason,
        Server=str(rng.choice(_SERVERS)).encode(),
        Content_Type=str(rng.choice(_CONTENT_TYPES)).encode(),
        Content_Length=str(len(body)).encode(), Date=_http_date(int(w.time)),
        Connection=b"close",
    ) / body
    w.tcp([(True, bytes(request)), (False, bytes(response))])


def _tls_extension(kind, data):
    return struct.pack("!HH", kind, len(data)) + data


def _tls_record(content_type, data, version=0x0303):
    return struct.pack("!BHH", content_type, version, len(data)) + data


def _tls_handshake(kind, body):
    return struct.pack("!B", kind) + len(body).to_bytes(3, "big") + body


def _client_hello(rng, server_name):
    # scapy's TLS layer needs the cryptography package to build a record;
    # the ClientHello is written by hand after RFC 8446, section 4.1.2.
    suites = [s for s in _TLS_SUITES if rng.random() < 0.8] or [0x1301]
    name = server_name.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    alpn_names = [b"h2", b"http/1.1"][: int(rng.integers(1, 3))]
    alpn = b"".join(struct.pack("!B", len(n)) + n for n in alpn_names)
    extensions = b"".join([
        _tls_extension(0x0000, sni),
        _tls_extension(0x000A, struct.pack("!H3H", 6, 0x001D, 0x0017, 0x0018)),
        _tls_extension(0x000B, b"\x01\x00"),
        _tls_extension(0x000D, struct.pack("!H4H", 8, 0x0403, 0x0804, 0x0401,
                                           0x0503)),
        _tls_extension(0x0010, struct.pack("!H", len(alpn)) + alpn),
        _tls_extension(0x002B, b"\x04\x03\x04\x03\x03"),
        _tls_extension(0x0033, struct.pack("!HHH", 36, 0x001D, 32)
                       + rng.bytes(32)),
    ])
    body = b"".join([
        b"\x03\x03", rng.bytes(32), b"\x20", rng.bytes(32),
        struct.pack("!H", 2 * len(suites)),
        struct.pack(f"!{len(suites)}H", *suites),
        b"\x01\x00", struct.pack("!H", len(extensions)), extensions,
    ])
    # A ClientHello record says TLS 1.0 for old middleboxes (RFC 8446, 5.1).
    return _tls_record(22, _tls_handshake(1, body), version=0x0301)


def _server_hello(rng, session_id):
    extensions = (_tls_extension(0x002B, b"\x03\x04")
                  + _tls_extension(0x0033, struct.pack("!HH", 0x001D, 32)
                                   + rng.bytes(32)))
    body = b"".join([
        b"\x03\x03", rng.bytes(32), b"\x20", session_id, b"\x13\x01\x00",
        struct.pack("!H", len(extensions)), extensions,
    ])
    return _tls_record(22, _tls_handshake(2, body))


def _tls(w, rng):
    hello = _client_hello(rng, str(rng.choice(_DOMAINS)))
    change_cipher_spec = _tls_record(20, b"\x01")
    # The session id echoed by the server sits at a fixed place of the hello.
    server_flight = (_server_hello(rng, hello[44:76]) + change_cipher_spec
                     + _tls_record(23, rng.bytes(int(rng.integers(2000, 4000)))))
    messages = [
        (True, hello),
        (False, server_flight),
        (True, change_cipher_spec + _tls_record(23, rng.bytes(53))
         + _tls_record(23, rng.bytes(int(rng.integers(100, 600))))),
        (False, _tls_record(23, rng.bytes(int(rng.integers(200, 3000))))),
    ]
    w.tcp(messages)


def _ssh_packet(rng, payload):
    # RFC 4253, section 6: length, padding length, payload, >= 4 padding
    # bytes, the whole a multiple of 8.
    padding = 4 + (-(len(payload) + 9)) % 8
    return (struct.pack("!IB", len(payload) + padding + 1, padding) + payload
            + rng.bytes(padding))


def _ssh_kexinit(rng):
    lists = b"".join(struct.pack("!I", len(n)) + n.encode() for n in _SSH_NAME_LISTS)
    return _ssh_packet(rng, b"\x14" + rng.bytes(16) + lists + b"\x00" + bytes(4))


def _ssh(w, rng):
    client = (str(rng.choice(_SSH_CLIENTS)) + "\r\n").encode()
    server = (str(rng.choice(_SSH_SERVERS)) + "\r\n").encode()
    messages = [
        (False, server),
        (True, client),
        (True, _ssh_kexinit(rng)),
        (False, _ssh_kexinit(rng)),
        (True, _ssh_packet(rng, b"\x1e" + struct.pack("!I", 32) + rng.bytes(32))),
        (False, _ssh_packet(rng, b"\x1f" + rng.bytes(int(rng.integers(180, 260))))),
    ]
    messages += [(bool(rng.random() < 0.5), rng.bytes(int(rng.integers(36, 200))))
                 for _ in range(int(rng.integers(1, 4)))]
    w.tcp(messages)


def _ntp(w, rng):
    from scapy.layers.ntp import NTPHeader

    now = w.time + _NTP_EPOCH
    w.udp(True, NTPHeader(version=4, mode=3, stratum=0, poll=6, precision=-20,
                          ref=0, orig=0, recv=0, sent=now))
    stratum = int(rng.integers(1, 4))
    reference = ("GPS\x00" if stratum == 1 else
                 str(ipaddress.IPv4Address(int(rng.integers(2**24, 2**31)))))
    w.udp(False, NTPHeader(
        version=4, mode=4, stratum=stratum, poll=6, precision=-23,
        delay=float(rng.uniform(0, 0.05)), dispersion=float(rng.uniform(0, 0.05)),
        id=reference if stratum > 1 else "127.0.0.1",
        ref=now - float(rng.uniform(10, 1000)), orig=now,
        recv=now + w.rtt / 2, sent=now + w.rtt / 2 + 1e-5,
    ))


_BUILDERS = {"DNS": _dns, "HTTP": _http, "NTP": _ntp, "SSH": _ssh, "TLS": _tls}
_SERVER_PORTS = {"DNS": 53, "HTTP": 80, "NTP": 123, "SSH": 22, "TLS": 443}
_TRANSPORTS = {"DNS": "UDP", "HTTP": "TCP", "NTP": "UDP", "SSH": "TCP",
               "TLS": "TCP"}


def _endpoints(rng, label, sport):
    """A client and a server: MAC, address, port, TTL and TCP window."""
    def mac():
        octets = rng.integers(0, 256, size=6)
        octets[0] = (octets[0] & 0xFC) | 0x02  # locally administered, unicast
        return ":".join(f"{o:02x}" for o in octets)

    if rng.random() < 0.15:
        client_ip = ipaddress.IPv6Address((0xFD00 << 112) | int(rng.integers(1, 2**62)))
        server_ip = ipaddress.IPv6Address((0x2001_0DB8 << 96)
                                          | int(rng.integers(1, 2**31)))
    else:
        client_ip = ipaddress.IPv4Address((192 << 24) | (168 << 16)
                                          | int(rng.integers(1, 2**16 - 1)))
        server_ip = ipaddress.IPv4Address(int(rng.integers(2**24, 2**31)))
    client = {"mac": mac(), "ip": str(client_ip), "port": sport,
              "ttl": int(rng.choice([64, 128])),
              "window": int(rng.choice([64240, 65535, 29200]))}
    server = {"mac": mac(), "ip": str(server_ip), "port": _SERVER_PORTS[label],
              "ttl": int(rng.choice([52, 57, 116, 243])),
              "window": int(rng.choice([65160, 28960, 65535]))}
    return client, server


def _write_pcap(path, packets):
    """Write classic little-endian microsecond pcap, Ethernet link type."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for stamp, data in packets:
            micros = round(stamp * 1e6)
            f.write(struct.pack("<IIII", micros // 10**6, micros % 10**6,
                                len(data), len(data)))
            f.write(data)


def make_capture(path, *, n_sessions=200, weights=None, flows=None,
                 random_state=None):
    """Write a pcap of synthetic, protocol-faithful sessions; return labels.

    In the spirit of :func:`sklearn.datasets.make_classification`: a small,
    labelled, imbalanced data set made on the spot, here as a real capture
    file. Each session is one of five application protocols, built with
    scapy's layers (TLS and SSH records by hand):

    - ``'DNS'``: a UDP query to port 53 and its answer (A or AAAA records,
      sometimes NXDOMAIN);
    - ``'HTTP'``: a TCP handshake (SYN, SYN-ACK, ACK), an HTTP/1.1 GET, the
      response in MSS-sized segments, the ACKs, then FIN both ways;
    - ``'NTP'``: an NTPv4 client request to port 123 and the server reply;
    - ``'SSH'``: over TCP, both version banners, both KEXINIT packets, the
      curve25519 key exchange, then a few encrypted packets;
    - ``'TLS'``: over TCP to port 443, a TLS 1.3 ClientHello (varied server
      name, cipher suites, ALPN, key share), the ServerHello flight, then
      application data records.

    Addresses (IPv4, and IPv6 for about 15% of sessions), MAC addresses,
    client ports, TTLs, names, paths and content vary per session. Sessions
    follow one another in time without overlapping, and every session has
    its own client port, so ``read_sessions(path)`` gives back exactly
    ``n_sessions`` sessions, in the order of ``y``.

    Parameters
    ----------
    path : str or path-like
        The pcap file to write (Ethernet link type, microsecond times).
    n_sessions : int, default=200
        Number of sessions, from 1 to 40000.
    weights : array-like of shape (5,) or (4,), dict or None, default=None
        Proportions of the classes ``('DNS', 'HTTP', 'NTP', 'SSH', 'TLS')``,
        in that (sorted) order; normalised to sum to 1. With 4 values the
        last class takes the rest, as in ``make_classification``. A dict
        maps class labels to proportions, absent classes getting none. None
        makes the classes balanced. Counts are the proportions times
        ``n_sessions``, rounded by largest remainder, so they follow the
        weights exactly, not on average.
    flows : str or path-like, default=None
        Where to also write a flow table in the format of nDPI's
        ``flows.csv`` (``pcap, transport, src, sport, dst, dport,
        bidirectional, master, app, category``), one row per session, the
        class in ``master`` and ``app``. Then ``skfocal extract --labels``
        and :func:`load_labelled_captures` (with ``label_column='app'``)
        read the capture as they read nDPI's. None writes no table.
    random_state : int, RandomState instance or None, default=None
        Seed of everything random; with an int the capture is the same byte
        for byte on every call.

    Returns
    -------
    y : ndarray of shape (n_sessions,), dtype=object
        The class of each session, aligned with the sessions that
        :func:`skfocal.read_sessions` returns for ``path``.

    See Also
    --------
    skfocal.read_sessions : Read the capture back into sessions.
    load_labelled_captures : Read it with the flow table.

    Examples
    --------
    >>> import os, tempfile
    >>> from skfocal import read_sessions
    >>> from skfocal.datasets import make_capture
    >>> path = os.path.join(tempfile.mkdtemp(), "synthetic.pcap")
    >>> y = make_capture(path, n_sessions=20, weights=[0.4, 0.3, 0.1, 0.1, 0.1],
    ...                  random_state=0)
    >>> sorted(set(y)), int((y == "DNS").sum())
    (['DNS', 'HTTP', 'NTP', 'SSH', 'TLS'], 8)
    >>> len(read_sessions(path))
    20
    """
    if (not isinstance(n_sessions, Integral) or isinstance(n_sessions, bool)
            or not 1 <= n_sessions <= _MAX_SESSIONS):
        raise ValueError(
            f"n_sessions must be an int from 1 to {_MAX_SESSIONS}. "
            f"Received: n_sessions={n_sessions!r}"
        )
    proportions = _check_weights(weights)
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))

    counts = _class_counts(proportions, n_sessions)
    y = np.repeat(np.asarray(CLASSES, dtype=object), counts)
    y = y[rng.permutation(n_sessions)]
    sports = rng.choice(np.arange(20_000, 20_000 + _MAX_SESSIONS), size=n_sessions,
                        replace=False)

    packets, rows = [], []
    time = _START_TIME + float(rng.uniform(0, 3600))
    name = os.path.basename(os.fspath(path))
    for label, sport in zip(y, sports.tolist()):
        client, server = _endpoints(rng, label, sport)
        writer = _Writer(rng, client, server, time)
        _BUILDERS[label](writer, rng)
        packets.extend(writer.packets)
        time = writer.time + float(rng.exponential(0.4)) + 0.001
        rows.append({
            "pcap": name, "transport": _TRANSPORTS[label],
            "src": ipaddress.ip_address(client["ip"]).compressed,
            "sport": sport, "dst": ipaddress.ip_address(server["ip"]).compressed,
            "dport": server["port"], "bidirectional": True,
            "master": label, "app": label, "category": _CATEGORIES[label],
        })
    _write_pcap(path, packets)

    if flows is not None:
        with open(flows, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=_FLOW_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return y
