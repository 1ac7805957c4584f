"""Benchmark captures -> sessions -> images against scapy and dpkt readers.

Run from the project root::

    python benchmarks/bench_extract.py --quick --json extract.json

On the shared captures (../shared/data: USTC-TFC2016 and the nDPI set,
classic pcap and pcapng apart) it measures packets/s and sessions/s of
``read_sessions`` followed by ``PcapImageTransformer.transform``, and of
three references: a scapy-dissection extractor (IP/TCP/UDP layers, grouped
by 5-tuple, first 784 payload bytes), scapy's bare raw reader loop and
dpkt's bare reader loop. It then builds a large classic pcap (1 GB) and a
large pcapng (256 MB) from the USTC records (1/16 of that with ``--quick``)
and reports the throughput and peak memory of extracting each, in a fresh
process, against dpkt's bare loop (pcap) and scapy's bare loop (pcapng). A
Markdown table comes last.
"""

import argparse
import gc
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import dpkt
import numpy as np
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import PcapReader, RawPcapNgReader, RawPcapReader

from skfocal import PcapImageTransformer
from skfocal.capture import read_sessions

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
PCAP_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d",
               b"\x4d\x3c\xb2\xa1")  # fmt: skip


def _captures():
    """The benchmark sets: name -> list of capture paths."""
    ndpi = sorted((SHARED / "ndpi-pcaps" / "pcap").glob("*"))
    classic = [path for path in ndpi if path.read_bytes()[:4] in PCAP_MAGICS]
    return {
        "ustc-tfc2016 (pcap)": sorted((SHARED / "ustc-tfc2016").glob("*.pcap")),
        "ndpi (pcap)": classic,
        "ndpi (pcapng)": [path for path in ndpi if path not in classic],
    }


def _best(function, repeat):
    """The best CPU time of ``repeat`` runs, and the last result.

    CPU time, not wall time: the benchmark machine is shared, and what
    other processes run should not count against the readers.
    """
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return best, result


def skfocal_extract(paths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sessions = read_sessions(paths)
    images = PcapImageTransformer().transform(sessions)
    return sessions.stats.packets_read, len(images)


def scapy_extract(paths, limit):
    """A scapy-dissection extractor: layers, 5-tuples, payload bytes."""
    n_packets, sessions = 0, {}
    for path in paths:
        try:
            with PcapReader(str(path)) as reader:
                for packet in reader:
                    n_packets += 1
                    ip = packet.getlayer(IP) or packet.getlayer(IPv6)
                    transport = packet.getlayer(TCP) or packet.getlayer(UDP)
                    if ip is not None and transport is not None:
                        ends = sorted([(ip.src, transport.sport),
                                       (ip.dst, transport.dport)])  # fmt: skip
                        key = (path, type(transport).__name__, *ends)
                        kept = sessions.setdefault(key, bytearray())
                        if len(kept) < 784:
                            kept += bytes(transport.payload)[: 784 - len(kept)]
                    if n_packets >= limit:
                        break
        except Exception:  # noqa: BLE001 - a malformed capture ends its loop
            pass
        if n_packets >= limit:
            break
    rows = np.zeros((len(sessions), 784), dtype=np.uint8)
    for row, kept in zip(rows, sessions.values()):
        row[: len(kept)] = np.frombuffer(bytes(kept), dtype=np.uint8)
    return n_packets, len(rows)


def scapy_raw_loop(paths):
    n_packets = 0
    for path in paths:
        magic = Path(path).read_bytes()[:4]
        reader_class = RawPcapReader if magic in PCAP_MAGICS else RawPcapNgReader
        try:
            with reader_class(str(path)) as reader:
                for _ in reader:
                    n_packets += 1
        except Exception:  # noqa: BLE001
            pass
    return n_packets, None


def dpkt_loop(paths):
    n_packets = 0
    for path in paths:
        with open(path, "rb") as file:
            try:
                for _ in dpkt.pcap.UniversalReader(file):
                    n_packets += 1
            except Exception:  # noqa: BLE001
                pass
    return n_packets, None


def _measure(name, function, repeat, packets=None):
    seconds, (n_packets, n_sessions) = _best(function, repeat)
    rate = n_packets / seconds if seconds else float("nan")
    row = {"extractor": name, "packets": n_packets, "seconds": seconds,
           "packets_per_s": rate}  # fmt: skip
    if n_sessions is not None:
        row["sessions"] = n_sessions
        row["sessions_per_s"] = n_sessions / seconds if seconds else float("nan")
    print(f"  {name:<22} {n_packets:>9} packets {seconds:8.3f} s "
          f"{row['packets_per_s']:>12,.0f} packets/s", flush=True)  # fmt: skip
    return row


def bench_shared(args):
    results = {}
    dissect_limit = 5_000 if args.quick else 50_000
    for set_name, paths in _captures().items():
        if not paths:
            continue
        print(f"{set_name}: {len(paths)} captures", flush=True)
        paths = [str(path) for path in paths]
        rows = [
            _measure("skfocal", lambda: skfocal_extract(paths), args.repeat),
            _measure("scapy dissection",
                     lambda: scapy_extract(paths, dissect_limit), 1),
            _measure("scapy raw reader", lambda: scapy_raw_loop(paths), args.repeat),
            _measure("dpkt reader", lambda: dpkt_loop(paths), args.repeat),
        ]  # fmt: skip
        ours = rows[0]["packets_per_s"]
        for row in rows[1:]:
            row["skfocal_ratio"] = ours / row["packets_per_s"]
        results[set_name] = rows
    return results


def _ustc_records():
    """The USTC records as (seconds, microseconds, caplen, wirelen, data)."""
    records = []
    for source in sorted((SHARED / "ustc-tfc2016").glob("*.pcap")):
        content = source.read_bytes()
        offset = 24
        while offset + 16 <= len(content):
            header = struct.unpack_from("<IIII", content, offset)
            data = content[offset + 16 : offset + 16 + header[2]]
            records.append((*header, data))
            offset += 16 + header[2]
    return records, content[:24]


def build_big_capture(path, size, kind="pcap"):
    """A capture of ``size`` bytes: the USTC records, repeated, time-shifted.

    ``kind='pcapng'`` writes the same records as Enhanced Packet Blocks
    after one section header and one Ethernet interface (microseconds).
    """
    records, file_header = _ustc_records()
    span = 3600
    with open(path, "wb") as out:
        if kind == "pcap":
            written = out.write(file_header)
        else:
            written = out.write(struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D,
                                            1, 0, -1) + struct.pack("<I", 28))
            written += out.write(struct.pack("<IIHHII", 1, 20, 1, 0, 0xFFFF, 20))
        round_ = 0
        while written < size:
            # Shift every record's seconds so that time keeps going forward.
            chunk = bytearray()
            for seconds, micros, caplen, wirelen, data in records:
                seconds += round_ * span
                if kind == "pcap":
                    chunk += struct.pack("<IIII", seconds, micros, caplen, wirelen)
                    chunk += data
                    continue
                ticks = seconds * 1_000_000 + micros
                padded = data + bytes(-len(data) % 4)
                length = 32 + len(padded)
                chunk += struct.pack("<IIIIIII", 6, length, 0, ticks >> 32,
                                     ticks & 0xFFFFFFFF, caplen, wirelen)
                chunk += padded + struct.pack("<I", length)
            written += out.write(chunk)
            round_ += 1
    return written


_CHILD = """
import json, resource, sys, time, warnings
from skfocal import PcapImageTransformer
from skfocal.capture import read_sessions
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start, cpu = time.perf_counter(), time.process_time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sessions = read_sessions(sys.argv[1])
images = PcapImageTransformer().transform(sessions)
print(json.dumps({
    "packets": sessions.stats.packets_read, "sessions": len(images),
    "seconds": time.process_time() - cpu, "wall_seconds": time.perf_counter() - start,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_after_imports_mb": base / 1024,
}))
"""


def bench_big(args, kind):
    """Extract a large synthetic capture in a fresh process.

    The reference is dpkt's bare loop for classic pcap and scapy's bare
    ``RawPcapNgReader`` loop for pcapng (the issue's goal for pcapng).
    """
    size = {"pcap": 1024, "pcapng": 256}[kind]
    size = (size // 16 if args.quick else size) << 20
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"big.{kind}")
        written = build_big_capture(path, size, kind)
        print(f"big capture ({kind}): {written / 2**20:.0f} MB", flush=True)
        done = subprocess.run([sys.executable, "-c", _CHILD, path], check=True,
                              capture_output=True, text=True, cwd=ROOT)  # fmt: skip
        row = json.loads(done.stdout)
        row["kind"] = kind
        row["file_mb"] = written / 2**20
        row["packets_per_s"] = row["packets"] / row["seconds"]
        row["sessions_per_s"] = row["sessions"] / row["seconds"]
        if kind == "pcap":
            reference, loop = "dpkt reader", dpkt_loop
        else:
            reference, loop = "scapy raw reader", scapy_raw_loop
        seconds, (n_packets, _) = _best(lambda: loop([path]), 1)
        row["reference"] = reference
        row["reference_packets_per_s"] = n_packets / seconds
        row["skfocal_ratio"] = row["packets_per_s"] / row["reference_packets_per_s"]
    print(f"  skfocal {row['packets_per_s']:,.0f} packets/s, {reference} "
          f"{row['reference_packets_per_s']:,.0f}, peak RSS "
          f"{row['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip
    return row


def _table(shared, big):
    lines = [
        "| captures | extractor | packets | packets/s | sessions/s "
        "| skfocal / this |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for set_name, rows in shared.items():
        for row in rows:
            sessions = row.get("sessions_per_s")
            lines.append(
                f"| {set_name} | {row['extractor']} | {row['packets']:,} "
                f"| {row['packets_per_s']:,.0f} "
                f"| {'' if sessions is None else f'{sessions:,.0f}'} "
                f"| {row.get('skfocal_ratio', 1.0):.2f} |"
            )
    for row in big:
        name = f"synthetic {row['file_mb']:,.0f} MB ({row['kind']})"
        lines.append(
            f"| {name} | skfocal | {row['packets']:,} | "
            f"{row['packets_per_s']:,.0f} | {row['sessions_per_s']:,.0f} | 1.00 |"
        )
        lines.append(
            f"| {name} | {row['reference']} | {row['packets']:,} | "
            f"{row['reference_packets_per_s']:,.0f} | | "
            f"{row['skfocal_ratio']:.2f} |"
        )
    for row in big:
        lines.append("")
        lines.append(
            f"Peak memory extracting the {row['file_mb']:,.0f} MB {row['kind']} "
            f"capture: {row['peak_rss_mb']:.0f} MB RSS "
            f"({row['rss_after_imports_mb']:.0f} MB after imports), "
            f"{row['sessions']:,} sessions."
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer repeats, smaller synthetic captures")  # fmt: skip
    parser.add_argument("--json", help="write the numbers to this JSON file")
    parser.add_argument("--repeat", type=int, default=None,
                        help="runs per measurement; the best counts")  # fmt: skip
    parser.add_argument("--no-big", action="store_true",
                        help="skip the large synthetic capture")  # fmt: skip
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if not SHARED.exists():
        parser.error(f"the shared captures are not at {SHARED}")

    shared = bench_shared(args)
    big = [] if args.no_big else [bench_big(args, "pcap"), bench_big(args, "pcapng")]
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"shared": shared, "big": big, "quick": args.quick,
                       "benchmark_peak_rss_mb": usage}, out, indent=2)  # fmt: skip
    print()
    print(_table(shared, big))


if __name__ == "__main__":
    main()
