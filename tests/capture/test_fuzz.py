"""Fuzzing read_sessions with mutated real captures: documented errors only."""

import random
import struct

import pytest
from capturefuzz import (
    SEED_FILES,
    check_capture,
    layout,
    load_seeds,
    mutate,
    quiet_loggers,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.shared_data

SEEDS = load_seeds()

needs_seeds = pytest.mark.skipif(
    not SEEDS,
    reason="needs the real captures under ../shared/data (ndpi-pcaps/pcap, "
    "ustc-tfc2016), absent on this machine",
)


@needs_seeds
def test_seeds_cover_both_formats_and_read_whole(tmp_path):
    assert len(SEEDS) >= len(SEED_FILES) // 2
    magics = {data[:4] for _, data in SEEDS}
    assert b"\x0a\x0d\x0d\x0a" in magics and b"\xd4\xc3\xb2\xa1" in magics
    assert b"\xa1\xb2\xc3\xd4" in magics and b"\x4d\x3c\xb2\xa1" in magics
    for name, data in SEEDS:
        path = tmp_path / name
        path.write_bytes(data)
        with quiet_loggers():
            kind, _, _ = check_capture(path, data)
        # An unmutated seed reads cleanly: the fuzzing starts from valid files.
        assert kind == "read", name


@needs_seeds
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.sampled_from(SEEDS), rnd=st.randoms(use_true_random=False))
def test_mutated_captures_raise_documented_errors_only(tmp_path, seed, rnd):
    name, data = seed
    data = mutate(data, rnd, SEEDS)
    path = tmp_path / f"mutated-{name}"
    path.write_bytes(data)
    with quiet_loggers():
        check_capture(path, data, measure_memory=True)


@needs_seeds
@pytest.mark.parametrize("value", [0, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
def test_every_length_field_set_to_an_edge_value(tmp_path, value):
    # Deterministic sweep over each length field of two seeds, one per format.
    chosen = [seed for seed in SEEDS if seed[0] in ("iqiyi.pcap", "http2.pcapng")]
    for name, data in chosen:
        _, fields = layout(data)
        for position, fmt in fields:
            size = struct.calcsize(fmt)
            field = struct.pack(fmt, value & ((1 << (8 * size)) - 1))
            mutated = data[:position] + field + data[position + size :]
            path = tmp_path / f"{position}-{name}"
            path.write_bytes(mutated)
            with quiet_loggers():
                check_capture(path, mutated, measure_memory=True)


@needs_seeds
def test_mutations_are_reproducible():
    # The long run prints seeds; the same seed must give the same input.
    first = mutate(SEEDS[0][1], random.Random(7), SEEDS)
    assert first == mutate(SEEDS[0][1], random.Random(7), SEEDS)
