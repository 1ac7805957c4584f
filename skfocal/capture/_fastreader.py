"""The numpy fast path for pcapng and gzip: the reader frames, numpy parses."""

import numpy as np

from skfocal.capture._errors import CaptureError
from skfocal.capture._fastpcap import PacketBatches

# Records gathered before they are parsed as one batch, and the bytes they
# may hold: a batch is thousands of packets, and no more memory than a
# classic pcap chunk.
BATCH_RECORDS = 1 << 15
BATCH_BYTES = 8 << 20


class ReaderBatches(PacketBatches):
    """Iterate over the records of a CaptureReader in batches of packets.

    The reader frames and checks the file exactly as for the general path
    (pcapng blocks, interfaces and sections; gzip streams); its records are
    gathered into batches, cut where the link type changes, and parsed as
    :class:`~skfocal.capture._fastpcap.PacketBatches` parses them. A
    CaptureError of the reader ends the batches after every record before
    it, as it ends the general path.

    Parameters
    ----------
    reader : CaptureReader
        An open reader, not yet iterated.
    tunnels, keep_other, skipped, unknown_links
        As for :class:`~skfocal.capture._fastpcap.PacketBatches`.
    batch_records : int, default=None
        Records per batch at most; None uses ``BATCH_RECORDS``.
    """

    def __init__(self, reader, tunnels, keep_other, skipped, unknown_links,
                 batch_records=None):  # fmt: skip
        super().__init__(reader.path, tunnels, keep_other, skipped, unknown_links)
        self.reader = reader
        self.batch_records = batch_records or BATCH_RECORDS

    def __iter__(self):
        records = []
        append = records.append
        held = 0
        limit = self.batch_records
        try:
            for record in self.reader:
                append(record)
                held += len(record[2])
                if held >= BATCH_BYTES or len(records) >= limit:
                    yield from self._parse(records)
                    records = []
                    append = records.append
                    held = 0
        except CaptureError as exc:
            self._fail(exc)
        yield from self._parse(records)
        self._take_reader_skips(self.reader)

    def _parse(self, records):
        """Yield the Batches of ``records``, one per run of a link type."""
        n = len(records)
        if not n:
            return
        self.n_read += n
        links, times, datas, wires = zip(*records)
        size = np.fromiter(map(len, datas), dtype=np.int64, count=n)
        yield from self._batches(
            b"".join(datas), np.cumsum(size) - size, size,
            np.array(wires, dtype=np.int64), np.array(times, dtype=np.float64),
            np.array(links, dtype=np.int64),
        )
