"""The long fuzz run: read_sessions on mutated real captures, crashes must be 0.

Each input is a real capture from ../shared/data mutated by the engine of
``tests/capture/capturefuzz.py`` (bit flips, truncation, length fields set
to edge values, duplicated, deleted and spliced records and blocks), read
with ``on_error='raise'`` and ``'warn'``. A crash is anything but a
documented CaptureError under 'raise', any exception under 'warn', a broken
accounting invariant, a read over 5 s or a MemoryError under the address
space limit. Crashing inputs are saved for replay.

    python benchmarks/fuzz_captures.py --n-inputs 10000
    python benchmarks/fuzz_captures.py --n-inputs 200 --seed 3 --crash-dir /tmp/c
"""

import argparse
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "capture"))

from capturefuzz import check_capture, load_seeds, mutate, quiet_loggers  # noqa: E402

# Far more than reading a 25 KB capture needs; far less than a length field
# of 2-4 GB trusted blindly would allocate.
_HEADROOM = 512 * 1024 * 1024


def _limit_address_space():
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    limit = pages * resource.getpagesize() + _HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    return limit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--crash-dir", type=Path, default=Path("fuzz-crashes"),
        help="where crashing inputs are saved (default: ./fuzz-crashes)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    seeds = load_seeds()
    if not seeds:
        sys.exit("no seed captures found under ../shared/data; nothing to fuzz")
    try:
        limit = _limit_address_space()
        print(f"address space limited to {limit / 2**20:.0f} MiB")
    except (OSError, ValueError):
        print("address space not limited (no /proc/self/statm)")

    kinds = Counter()
    crashes = []
    slowest = (0.0, None)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, quiet_loggers():
        for index in range(args.n_inputs):
            rnd = random.Random(f"{args.seed}-{index}")
            name, data = rnd.choice(seeds)
            data = mutate(data, rnd, seeds)
            path = Path(folder) / f"input{index}-{name}"
            path.write_bytes(data)
            try:
                kind, seconds, _ = check_capture(path, data)
            except Exception as exc:  # noqa: BLE001 - every crash is counted
                crashes.append((index, name, repr(exc)))
                args.crash_dir.mkdir(parents=True, exist_ok=True)
                (args.crash_dir / path.name).write_bytes(data)
                if len(crashes) <= 5:
                    traceback.print_exc()
                continue
            finally:
                path.unlink()
            kinds[kind] += 1
            if seconds > slowest[0]:
                slowest = (seconds, f"input {index} (from {name}, {len(data)} bytes)")

    elapsed = time.perf_counter() - began
    print(f"inputs tried: {args.n_inputs} from {len(seeds)} seed captures "
          f"in {elapsed:.1f} s (--seed {args.seed})")  # fmt: skip
    print(f"read without error: {kinds.pop('read', 0)}")
    print(f"documented errors: {sum(kinds.values())}")
    for kind, count in kinds.most_common():
        print(f"  {kind}: {count}")
    print(f"crashes: {len(crashes)}")
    for index, name, error in crashes[:20]:
        print(f"  input {index} (from {name}): {error}")
    print(f"slowest input: {slowest[0] * 1000:.1f} ms, {slowest[1]}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
