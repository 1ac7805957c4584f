"""read_sessions(): capture files to sessions, checked, counted, in parallel."""

import contextlib
import logging
import numbers
import os
import warnings
from pathlib import Path

from joblib import Parallel, delayed, effective_n_jobs
from tqdm import tqdm

from skfocal.capture._errors import CaptureError, CaptureWarning
from skfocal.capture._fastgroup import KeyCollision
from skfocal.capture._fastpcap import PcapBatches, fast_header
from skfocal.capture._fastpcapng import PcapngBatches
from skfocal.capture._fastreader import ReaderBatches
from skfocal.capture._grouping import _collection_paused, _Grouping
from skfocal.capture._linktypes import LINK_TYPES
from skfocal.capture._reader import CaptureReader
from skfocal.capture._records import ExtractionStats, SessionList

logger = logging.getLogger("skfocal")


# Whether captures go through the numpy path (tests turn it off to compare
# both paths), and from which file size: below it the fixed cost of some
# hundred numpy calls exceeds what they save over the general path. Timing
# both paths on each nDPI capture put the best threshold near 64 KiB for
# classic pcap and twice that for pcapng, whose block walk costs more.
FAST_PATH = True
FAST_PATH_MIN_BYTES = 64 * 1024


def _fast_batches(reader, grouping, options):
    """The numpy path's batches for ``reader``'s file; None for the general path.

    Uncompressed classic pcap and pcapng are walked in chunks of the file;
    gzip-compressed captures are framed by the reader and parsed in
    batches of its records.
    """
    if not FAST_PATH or logger.isEnabledFor(logging.DEBUG):
        # The numpy path logs no per-packet diagnostics.
        return None
    minimum = FAST_PATH_MIN_BYTES * (2 if reader.format == "pcapng" else 1)
    if os.path.getsize(reader.path) < minimum:
        return None
    counters = (options[5], options[4], grouping.skipped, grouping.unknown_links)
    # None for a gzip-compressed file, whose magic is gzip's.
    header = fast_header(reader.path) if reader.format == "pcap" else None
    if header is not None:
        return PcapBatches(reader.path, header, *counters)
    if reader.format == "pcapng" and not reader.compressed:
        return PcapngBatches(reader, *counters)
    return ReaderBatches(reader, *counters)


def _expand_paths(paths):
    """The capture files named by ``paths``, directories expanded (sorted)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    try:
        paths = list(paths)
    except TypeError:
        raise TypeError(
            "paths must be a path (str or os.PathLike) or an iterable of paths; "
            f"got {type(paths).__name__} instead"
        ) from None

    files = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(
                "paths must hold str or os.PathLike items; got "
                f"{type(path).__name__} ({path!r}) instead"
            )
        folder = Path(path)
        if folder.is_dir():
            children = sorted(
                str(child) for child in folder.iterdir() if child.is_file()
            )
            if not children:
                raise ValueError(
                    "paths must name capture files or directories holding "
                    f"some; the directory {os.fspath(path)!r} holds no file"
                )
            files.extend(children)
        elif folder.exists():
            # Keep the caller's spelling: sessions name their capture with it.
            files.append(os.fspath(path))
        else:
            raise FileNotFoundError(
                f"paths must name existing capture files or directories; "
                f"{os.fspath(path)!r} does not exist"
            )

    # A file named twice (directly, or also through its folder) would give
    # every session twice, on both sides of a later split: read it once.
    seen, unique = set(), []
    for file in files:
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            unique.append(file)
    if len(unique) < len(files):
        warnings.warn(
            f"{len(files) - len(unique)} "
            "repeated names of capture files were left out: a file named "
            "more than once (directly or through its folder) is read once",
            CaptureWarning,
            stacklevel=3,
        )
    return unique


def _check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        accepted = ", ".join(repr(choice) for choice in sorted(choices))
        raise ValueError(
            f"The {name!r} parameter of read_sessions must be a str among "
            f"{{{accepted}}}. Got {value!r} instead."
        )


def _check_positive_int(name, value, function="read_sessions"):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < 1
    ):
        raise ValueError(
            f"The {name!r} parameter of {function} must be an int in the "
            f"range [1, inf). Got {value!r} instead."
        )


def _validate(unit, max_bytes, idle_timeout, include_vlan, non_tcp_udp, tunnels,
              on_error, verbose, min_packets, n_jobs):  # fmt: skip
    _check_choice("unit", unit, ("session", "flow", "capture"))
    _check_choice("non_tcp_udp", non_tcp_udp, ("skip", "key"))
    _check_choice("tunnels", tunnels, ("inner", "outer"))
    _check_choice("on_error", on_error, ("warn", "raise"))
    _check_positive_int("max_bytes", max_bytes)
    if idle_timeout is not None and (
        not isinstance(idle_timeout, numbers.Real)
        or isinstance(idle_timeout, bool)
        or not idle_timeout > 0
    ):
        raise ValueError(
            "The 'idle_timeout' parameter of read_sessions must be None or a "
            f"float in the range (0, inf). Got {idle_timeout!r} instead."
        )
    if not isinstance(include_vlan, bool):
        raise ValueError(
            "The 'include_vlan' parameter of read_sessions must be a bool. "
            f"Got {include_vlan!r} instead."
        )
    if not isinstance(verbose, numbers.Integral) or verbose < 0:
        raise ValueError(
            "The 'verbose' parameter of read_sessions must be an int in the "
            f"range [0, inf). Got {verbose!r} instead."
        )
    _check_positive_int("min_packets", min_packets)
    if n_jobs is not None and (
        not isinstance(n_jobs, numbers.Integral)
        or isinstance(n_jobs, bool)
        or n_jobs == 0
    ):
        raise ValueError(
            "The 'n_jobs' parameter of read_sessions must be None or a nonzero "
            f"int. Got {n_jobs!r} instead."
        )


def read_sessions(
    paths,
    *,
    unit="session",
    max_bytes=784,
    idle_timeout=None,
    include_vlan=False,
    non_tcp_udp="skip",
    tunnels="inner",
    min_packets=1,
    on_error="warn",
    n_jobs=None,
    verbose=0,
):
    """Read capture files and group their packets into sessions.

    Classic pcap (micro- and nanosecond, either byte order) and pcapng
    (several sections and interfaces, each with its own link type and time
    unit) are told apart by their magic number, never by the file name;
    gzip-compressed captures are read too. Records come from scapy's raw
    readers, without per-packet dissection.

    Parameters
    ----------
    paths : str, path-like or iterable of those
        Capture files; a directory stands for every file directly in it,
        in sorted order. Files are read in the order given.
    unit : {'session', 'flow', 'capture'}, default='session'
        ``'session'``: packets of both directions keyed by the protocol and
        the unordered pair of endpoints (address, port). ``'flow'``: one
        direction only, keyed by the directed 5-tuple. ``'capture'``: every
        usable packet of a file in one sample with no 5-tuple (for captures
        that already hold one session each, as USTC-TK2016 writes them);
        ``idle_timeout`` does not apply then, and a readable capture with no
        usable packet still gives its (empty) sample, with a NaN first time.
        In every unit, the client is the source of the first packet.
    max_bytes : int, default=784
        Byte budget of a session. A packet is kept in ``Session.packets``
        while any of three running totals of the packets kept so far -- bytes
        from the link layer, bytes from the network header, transport payload
        bytes -- is below ``max_bytes``; a packet without payload is not kept
        for the payload total alone, as it would add nothing to it. Later
        packets count in ``n_packets`` and ``n_bytes`` but are not kept, so
        memory grows with the open sessions, not the capture size.
    idle_timeout : float or None, default=None
        Seconds: a gap longer than this between two packets of one key
        starts a new session. None never splits on time. Independently, a
        TCP SYN without ACK arriving after the session saw a RST (either
        way) or a FIN both ways starts a new session; a flow (``unit='flow'``)
        sees one direction only, and its own FIN is enough.
    include_vlan : bool, default=False
        Whether the VLAN ids (all tags, outermost first) are part of the key.
    non_tcp_udp : {'skip', 'key'}, default='skip'
        Packets of other IP protocols (ICMP, ESP, SCTP, ...): skipped with
        the reason ``'not tcp/udp'``, or keyed by protocol and addresses with
        ports None; their payload is everything after the IP header(s).
    tunnels : {'inner', 'outer'}, default='inner'
        ``'inner'`` decapsulates IP-in-IP (IPv4/IPv6 in IPv4/IPv6, protocols
        4 and 41), plain GRE and GTP-U and keys the packet by the inner flow,
        as nDPI labels it; ``Packet.network_offset`` still points at the
        outermost IP header, the transport and payload offsets at the inner
        ones. ``'outer'`` keys by the outermost header (a tunnel is then
        'not tcp/udp' unless carried over UDP).
    min_packets : int, default=1
        Sessions with fewer packets are dropped; ``stats.sessions_dropped``
        counts them by reason, and their packets move from
        ``packets_used`` to ``packets_skipped``. With ``unit='capture'``
        this drops the samples of captures with fewer usable packets; the
        default keeps every sample, empty ones included.
    on_error : {'warn', 'raise'}, default='warn'
        ``'warn'``: a capture that cannot be read at all goes to
        ``stats.captures_failed`` with a :class:`CaptureWarning`; a capture
        truncated or corrupt part-way gives the sessions of its complete
        records, one warning and a line in ``stats.warnings``. ``'raise'``:
        both raise the :class:`CaptureError`.
    n_jobs : int or None, default=None
        Captures read at once, one per job, through joblib: None means 1
        unless in a :func:`joblib.parallel_config` context (a Dask cluster
        through joblib's ``'dask'`` backend, for example); -1 uses every
        processor. The result, its order, its stats and the warnings are
        those of a serial read whatever ``n_jobs``; per-packet DEBUG logs
        are only given serially, so DEBUG logging reads serially.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar over the captures (on stderr),
        prints a line per capture and the summary at the end.

    Returns
    -------
    sessions : SessionList
        Sessions ordered by capture, then first packet time. Its ``stats``
        (:class:`ExtractionStats`) obey ``packets_read == packets_used +
        sum(packets_skipped.values())`` and ``sessions == len(sessions)``.

    Raises
    ------
    CaptureError
        With ``on_error='raise'``, for the first capture that cannot be read
        entirely.
    FileNotFoundError
        When a path names neither a file nor a directory.

    Notes
    -----
    Packets skipped, with their reason in ``stats.packets_skipped``:
    link types not read (``'link type 105'``; one warning per capture),
    ``'non-ip'``, ``'malformed link layer'``, ``'malformed ip'``,
    ``'malformed tcp'``, ``'malformed udp'``, ``'not tcp/udp'`` and
    ``'ip fragment'``: non-first IP fragments hold no ports and are not
    reassembled. Per-packet diagnostics go to the ``'skfocal'`` logger at
    DEBUG level.

    Examples
    --------
    >>> from skfocal.capture import read_sessions
    >>> sessions = read_sessions("captures/")  # doctest: +SKIP
    >>> sessions[0].five_tuple  # doctest: +SKIP
    (6, '192.168.2.126', 45380, '161.117.13.29', 80)
    >>> print(sessions.stats.summary())  # doctest: +SKIP
    """
    _validate(unit, max_bytes, idle_timeout, include_vlan, non_tcp_udp, tunnels,
              on_error, verbose, min_packets, n_jobs)  # fmt: skip
    options = (unit, max_bytes, idle_timeout, include_vlan, non_tcp_udp == "key",
               tunnels)  # fmt: skip
    files = _expand_paths(paths)
    stats = ExtractionStats()
    result = []

    # Per-packet DEBUG diagnostics are only logged in this process.
    serial = effective_n_jobs(n_jobs) == 1 or logger.isEnabledFor(logging.DEBUG)
    if serial:
        parts = (_read_capture(path, options, min_packets) for path in files)
    else:
        parts = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_read_capture)(path, options, min_packets) for path in files
        )
    progress = tqdm(total=len(files), unit="capture", disable=not verbose,
                    desc="reading captures")  # fmt: skip
    # Paused over all the captures, not one at a time: the collections that
    # each resumption can set off add up over many small captures.
    with progress, _collection_paused() if serial else contextlib.nullcontext():
        # Workers only report: warnings and errors are given here, in the
        # order of the captures, so that any n_jobs acts the same.
        for path, (found, part, notes, error) in zip(files, parts):
            if error is not None and on_error == "raise":
                with warnings.catch_warnings():
                    # joblib notes the captures read ahead for nothing.
                    warnings.filterwarnings("ignore", module="joblib")
                    parts.close()
                raise error
            for category, message in notes:
                if category is None:
                    logger.warning("%s", message)
                else:
                    warnings.warn(message, category, stacklevel=2)
            stats.update(part)
            result.extend(found)
            progress.update()
            progress.set_postfix(packets=stats.packets_read, sessions=len(result),
                                 refresh=False)  # fmt: skip
            if not part.captures_failed:
                logger.info("%s: %d sessions", path, len(found))
                if verbose:
                    progress.write(f"{path}: {len(found)} sessions")

    stats.sessions = len(result)
    if verbose:
        print(stats.summary())
    return SessionList(result, stats)


def _read_capture(path, options, min_packets):
    """Read one capture file for :func:`read_sessions`, maybe in a worker.

    Returns
    -------
    sessions : list of Session
    stats : ExtractionStats
        This capture's counts.
    notes : list of (category, str)
        Warnings to give, in order; category None is a log line.
    error : CaptureError or None
        What ended the reading, at the start of the file or part-way.
    """
    stats = ExtractionStats()
    notes = []
    try:
        reader = CaptureReader(path)
    except CaptureError as exc:
        stats.captures_failed[path] = exc.reason
        notes.append((CaptureWarning, f"skipped capture {exc}"))
        return [], stats, notes, exc

    with reader, _collection_paused():
        grouping = _Grouping(path, options)
        batches = _fast_batches(reader, grouping, options)
        if batches is None:
            grouping.run(reader)
        else:
            try:
                grouping.run_batches(batches)
            except KeyCollision:
                # Two keys with one 64-bit digest: the general path compares
                # whole keys, from the start of the file again.
                grouping = _Grouping(path, options)
                with CaptureReader(path) as again:
                    grouping.run(again)
    found = grouping.sessions
    stats.update(grouping.stats)
    stats.captures_read += 1

    if grouping.error is not None:
        stats.warnings.append(str(grouping.error))
        notes.append((CaptureWarning, f"read a capture in part: {grouping.error}"))
    for message in grouping.notes:
        stats.warnings.append(message)
        notes.append((CaptureWarning, message))
    if grouping.unknown_links:
        links = ", ".join(str(link) for link in sorted(grouping.unknown_links))
        message = (
            f"{path}: skipped {grouping.unknown_links.total()} packets of "
            f"link type {links}, which is not read; the link types read are "
            f"{', '.join(str(link) for link in sorted(LINK_TYPES))}"
        )
        stats.warnings.append(message)
        notes.append((CaptureWarning, message))
    if grouping.oversized:
        # Not fatal and nothing to act on: note it, read as captured.
        message = (
            f"{path}: {grouping.oversized} packets have more captured "
            "bytes than their wire length; they were read as captured"
        )
        stats.warnings.append(message)
        notes.append((None, message))

    if min_packets > 1:
        found = _drop_short(found, min_packets, stats)
    return found, stats, notes, grouping.error


def _drop_short(found, min_packets, stats):
    """The sessions of at least ``min_packets`` packets; count the others."""
    kept = [session for session in found if session.n_packets >= min_packets]
    if len(kept) < len(found):
        reason = f"fewer than {min_packets} packets"
        dropped = sum(s.n_packets for s in found if s.n_packets < min_packets)
        stats.sessions_dropped[reason] += len(found) - len(kept)
        # Their packets were used for nothing after all.
        stats.packets_used -= dropped
        stats.packets_skipped[f"in sessions of {reason}"] += dropped
    stats.sessions = len(kept)
    return kept
