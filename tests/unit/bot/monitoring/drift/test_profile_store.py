"""Stored profiles: a reference profile read back from Parquet is the profile that was written
(so its drift report is the frame's, bit for bit); partition profiles merge into the profile of
their concatenation; the store misses, never fails, on a changed, corrupt or foreign file."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bot.monitoring.drift.engine import compute_drift, profile_reference
from bot.monitoring.drift.profile_codec import (
    META_KEY,
    ProfileMeta,
    read_profile,
    run_lengths,
    write_profile,
)
from bot.monitoring.drift.profile_merge import merge_profiles, profile_current
from bot.monitoring.drift.profile_store import (
    KEEP_PER_MODEL,
    ProfileKind,
    ProfileStore,
    ReferenceKey,
    file_digest,
)
from bot.monitoring.drift.profiles import ColumnProfile, ReferenceProfile


def odd_frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    """Every kind of column the engine profiles, with the values that break codecs."""
    ties = rng.integers(0, 50, n).astype(np.float64) + shift
    ties[::7] = np.nan
    ties[3::11] = np.inf
    ties[5::13] = -np.inf
    zeros = rng.choice([-0.0, 0.0, 1.5], n)
    huge = rng.choice([1e308, -1e308, 3.0], n)
    plan = rng.choice(["basic", "pro", "team", "ünï ✓"], n).astype(object)
    plan[::9] = None
    mixed = rng.choice(np.array([1, "one", 2.5, True, -7], dtype=object), n)
    dates = pd.date_range("2026-11-01", periods=n, freq="37min", tz="UTC")
    return pd.DataFrame(
        {
            "ties": ties,
            "normal": rng.normal(shift, 1, n),
            "zeros": zeros,
            "huge": huge,
            "empty": np.full(n, np.nan),
            "constant": np.full(n, 4.25),
            "ints": rng.integers(-3, 3, n),
            "nullable": pd.array(rng.integers(0, 1000, n), dtype="Int64"),
            "small": rng.normal(0, 1, n).astype(np.float32),
            "flag": rng.random(n) < 0.3 + shift / 10,
            "plan": plan,
            "mixed": mixed,
            "category": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "cat_floats": pd.Categorical(rng.choice([0.5, 1.25, 2.0], n)),
            "text": pd.array(rng.choice(["a", "b"], n), dtype="str"),
            "nothing": np.full(n, None, dtype=object),
            "ts": dates,
            "day": dates.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "delay": pd.to_timedelta(rng.integers(0, 100, n), unit="s"),
        }
    )


def assert_same_profile(a: ReferenceProfile, b: ReferenceProfile, *, bits: bool = True) -> None:
    """Equal profiles; ``bits``: arrays equal bit for bit (else -0.0 == 0.0, as sorting two
    sides apart may order a run of signed zeros differently)."""
    assert a.rows == b.rows and list(a.columns) == list(b.columns)
    for name in a.columns:
        assert_same_column(a.columns[name], b.columns[name], bits=bits)


def assert_same_column(x: ColumnProfile, y: ColumnProfile, *, bits: bool = True) -> None:
    for attr in ("name", "dtype", "kind", "rows", "missing"):
        assert getattr(x, attr) == getattr(y, attr), (x.name, attr)
    assert float(x.std).hex() == float(y.std).hex(), x.name
    for attr in ("values", "distinct", "edges", "bin_counts"):
        u, v = getattr(x, attr), getattr(y, attr)
        assert (u is None) == (v is None), (x.name, attr)
        if u is not None:
            assert u.dtype == v.dtype, (x.name, attr)
            same = u.tobytes() == v.tobytes() if bits else np.array_equal(u, v, equal_nan=True)
            assert same, (x.name, attr)
    if x.counts is None:
        assert y.counts is None, x.name
    else:
        assert y.counts is not None
        assert list(x.counts.items()) == list(y.counts.items()), x.name  # order too
        assert [type(k) for k in x.counts] == [type(k) for k in y.counts], x.name
    for attr in ("newest", "oldest"):
        u, v = getattr(x, attr), getattr(y, attr)
        assert u == v and (u is None or u.unit == v.unit and str(u.tz) == str(v.tz)), x.name


def test_run_lengths_rebuild_the_array_bit_for_bit() -> None:
    values = np.sort(np.array([3.0, -0.0, 0.0, 1.0, 1.0, -1e308, 5e-324, 3.0, -0.0]))
    distinct, counts = run_lengths(values)
    assert np.repeat(distinct, counts).tobytes() == values.tobytes()
    assert counts.sum() == values.size
    empty = run_lengths(np.zeros(0))
    assert empty[0].size == 0 and empty[1].size == 0


def test_a_profile_reads_back_exactly_and_reports_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    ref, cur = odd_frame(rng, 3000), odd_frame(rng, 2000, shift=0.5)
    profile = profile_reference(ref)
    write_profile(profile, tmp_path / "p.parquet", {"model": "churn"})
    back = read_profile(tmp_path / "p.parquet")
    assert_same_profile(profile, back)
    assert [type(k) for k in back.columns["flag"].counts or {}] == [bool, bool]
    assert {type(k) for k in back.columns["mixed"].counts or {}} >= {int, str, float}
    assert back.columns["ts"].newest == ref["ts"].max()
    now = pd.Timestamp("2026-12-01T00:00:00Z").to_pydatetime()
    fresh = compute_drift(ref, cur, now=now, freshness=["ts"]).to_dict()
    assert compute_drift(back, cur, now=now, freshness=["ts"]).to_dict() == fresh
    # large reference: the methods for more than 1,000 rows (Wasserstein, Jensen-Shannon)
    big_ref, big_cur = odd_frame(rng, 5000), odd_frame(rng, 4000, shift=0.2)
    write_profile(profile_reference(big_ref), tmp_path / "big.parquet", {})
    expected = compute_drift(big_ref, big_cur).to_dict()
    assert compute_drift(read_profile(tmp_path / "big.parquet"), big_cur).to_dict() == expected


def test_empty_frames_and_excluded_columns_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    frame = odd_frame(rng, 50)
    for profile in (
        profile_reference(frame.iloc[:0]),
        profile_reference(frame, exclude={"plan", "ts"}),
        profile_reference(frame, columns=["normal", "flag"]),
        ReferenceProfile(rows=0),
    ):
        write_profile(profile, tmp_path / "p.parquet", {})
        assert_same_profile(profile, read_profile(tmp_path / "p.parquet"))


def test_a_profile_of_another_format_or_a_corrupt_file_is_a_miss(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles")
    profile = profile_reference(odd_frame(np.random.default_rng(7), 200))
    key = ReferenceKey("churn", "3", ["ref.parquet|10|20"])
    path = store.reference_path(key)
    assert store.load(ProfileKind.REFERENCE, path) is None  # absent
    assert store.save(ProfileKind.REFERENCE, path, profile, key.source())
    loaded = store.load(ProfileKind.REFERENCE, path)
    assert loaded is not None
    assert_same_profile(profile, loaded)
    assert (store.hits[ProfileKind.REFERENCE], store.misses[ProfileKind.REFERENCE]) == (1, 1)

    table = pq.read_table(path)
    doc = ProfileMeta.model_validate_json(table.schema.metadata[META_KEY])
    future = doc.model_copy(update={"format": 99})
    pq.write_table(
        table.replace_schema_metadata({META_KEY: future.model_dump_json().encode()}), path
    )
    assert store.load(ProfileKind.REFERENCE, path) is None  # a version this bot does not know
    path.write_bytes(b"PAR1 not really a profile")
    assert store.load(ProfileKind.REFERENCE, path) is None
    pq.write_table(table.replace_schema_metadata({}), path)  # a Parquet file, not a profile
    assert store.load(ProfileKind.REFERENCE, path) is None
    assert store.misses[ProfileKind.REFERENCE] == 4 and store.hits[ProfileKind.REFERENCE] == 1
    assert store.save(ProfileKind.REFERENCE, path, profile, key.source())  # replaced whole
    assert store.load(ProfileKind.REFERENCE, path) is not None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_profiles_with_keys_the_codec_cannot_keep_are_not_stored(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles")
    frame = pd.DataFrame({"blob": [b"a", b"b", b"a"], "x": [1.0, 2.0, 3.0]})
    path = store.reference_path(ReferenceKey("churn", "1", ["x"]))
    assert not store.save(ProfileKind.REFERENCE, path, profile_reference(frame), {})
    assert not path.exists() and store.writes[ProfileKind.REFERENCE] == 0
    assert list(path.parent.iterdir()) == []  # the temporary file is gone too


def test_the_key_changes_with_the_reference_and_old_profiles_are_pruned(tmp_path: Path) -> None:
    data = tmp_path / "ref.parquet"
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(data)
    before = file_digest([data])
    pd.DataFrame({"x": [1.0, 2.0, 3.0]}).to_parquet(data)
    after = file_digest([data])
    assert before != after and str(data.resolve()) in after[0]
    store = ProfileStore(tmp_path / "profiles")
    keys = [
        ReferenceKey("churn", "1", before),
        ReferenceKey("churn", "1", after),
        ReferenceKey("churn", "2", after),
        ReferenceKey("churn", "2", after, exclude=["label"]),
        ReferenceKey("churn", "2", after, columns=["x"]),
        ReferenceKey("fraud", "2", after),
    ]
    paths = [store.reference_path(k) for k in keys]
    assert len(set(paths)) == len(keys)
    assert store.reference_path(ReferenceKey("churn", "1", list(before))) == paths[0]

    profile = profile_reference(pd.DataFrame({"x": [1.0]}))
    written = []
    for i in range(KEEP_PER_MODEL + 2):
        path = store.reference_path(ReferenceKey("churn", str(i), after))
        assert store.save(ProfileKind.REFERENCE, path, profile, {})
        os.utime(path, ns=(i * 10**9, i * 10**9))  # the write order, whatever the clock says
        written.append(path)
    writing = written[0].with_name(".tmp-another-report.parquet")  # another report's
    writing.write_bytes(b"PAR1")
    removed = store.prune("churn")
    assert sorted(removed) == sorted(written[:2])
    assert all(p.exists() for p in written[2:]) and writing.exists()


def partitions(rng: np.random.Generator, days: int) -> list[pd.DataFrame]:
    """Daily frames with ties, NaN, bool, categories appearing in a different order each day,
    dates, date text and an object column that is all null on one day."""
    out = []
    for day in range(days):
        n = int(rng.integers(300, 700))
        frame = odd_frame(rng, n, shift=day / 10).drop(columns=["category", "cat_floats"])
        frame["plan"] = rng.choice(["team", "pro", f"day{day}", "basic"][day % 3 :], n)
        if day == 2:
            frame["nothing"] = np.full(n, None, dtype=object)
        else:
            frame["nothing"] = rng.choice(np.array(["u", "v"], dtype=object), n)
        out.append(frame)
    return out


def test_partition_profiles_merge_into_the_concatenated_frame(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    days = partitions(rng, 7)
    ref = pd.concat(partitions(np.random.default_rng(9), 3), ignore_index=True)
    whole = pd.concat(days, ignore_index=True)
    parts = []
    for i, day in enumerate(days):  # through the codec, as the store keeps them
        write_profile(profile_current(day), tmp_path / f"{i}.parquet", {})
        parts.append(read_profile(tmp_path / f"{i}.parquet"))
    merged = merge_profiles(parts)
    assert merged is not None
    assert_same_profile(merged, profile_current(whole), bits=False)
    now = pd.Timestamp("2026-12-01T00:00:00Z").to_pydatetime()
    profile = profile_reference(ref)
    for reference in (ref, profile):
        expected = compute_drift(reference, whole, now=now, freshness=["ts"]).to_dict()
        assert compute_drift(reference, merged, now=now, freshness=["ts"]).to_dict() == expected


def test_partitions_that_disagree_do_not_merge() -> None:
    a = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    floats = a.assign(x=[1.5, np.nan, 2.0])  # int64 + float64 concatenate to float64
    assert merge_profiles([profile_current(a), profile_current(floats)]) is None
    other_columns = a.assign(z=1)
    assert merge_profiles([profile_current(a), profile_current(other_columns)]) is None
    dates = pd.DataFrame({"x": [4, 5, 6], "y": ["2026-01-01", "2026-01-02", "2026-01-03"]})
    assert merge_profiles([profile_current(a), profile_current(dates)]) is None  # text vs dates
    cats = a.assign(y=pd.Categorical(["a", "b", "c"]))
    assert merge_profiles([profile_current(cats), profile_current(cats)]) is None
    assert merge_profiles([]) is None
    one = merge_profiles([profile_current(a)])
    assert one is not None and one.rows == 3
    assert_same_profile(one, profile_current(a))


def test_profiles_a_killed_report_left_half_written_are_swept_after_a_day(
    tmp_path: Path,
) -> None:
    store = ProfileStore(tmp_path / "profiles")
    key = ReferenceKey("churn", "1", ["digest"])
    now = time.time()  # the entries' times are set from it; the clock only moves forward
    abandoned, writing = [], []
    for age, into in ((2 * 86400, abandoned), (600, writing)):
        file = store.reference_path(key)  # a file being written beside its final name
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = file.with_name(f".tmp-{age}.parquet")
        tmp_file.write_bytes(b"PAR1")
        folders = [store.scratch(store.tables_path(key))]  # folders being built
        folders.append(store.scratch(store.partition_tables_path("day1|1|2")))
        for folder in folders:
            (folder / "values-0.parquet").write_bytes(b"PAR1")
        for path in (tmp_file, *folders):
            os.utime(path, (now - age, now - age))
            into.append(path)
    assert sorted(store.prune("churn", now=now)) == sorted(abandoned[:2])
    assert store.prune_partitions(now=now) == 1
    assert not any(p.exists() for p in abandoned)
    assert all(p.exists() for p in writing)  # other reports are still writing these


def test_partition_profiles_unused_for_weeks_are_pruned(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles")
    profile = profile_current(pd.DataFrame({"x": [1.0, 2.0]}))
    old, recent, used = (store.partition_path(f"day{i}|1|2") for i in range(3))
    for path in (old, recent, used):
        assert store.save(ProfileKind.PARTITION, path, profile, {})
    now = time.time()  # the files' times are set from it; the clock only moves forward
    os.utime(old, (now - 40 * 86400, now - 40 * 86400))
    os.utime(recent, (now - 30 * 86400, now - 30 * 86400))
    os.utime(used, (now - 90 * 86400, now - 90 * 86400))
    assert store.load(ProfileKind.PARTITION, used) is not None  # a use touches it
    assert store.prune_partitions(days=35, now=now) == 1
    assert not old.exists() and recent.exists() and used.exists()
