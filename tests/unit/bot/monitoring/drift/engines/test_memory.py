"""DuckDB's share of MLOPS_BOT_DUCKDB_MEMORY_LIMIT: the limit minus what the process holds and
a margin, never below a quarter of it; sizes read as DuckDB reads them."""

from __future__ import annotations

import pytest

from bot.monitoring.drift.engines import EngineConfig, make_engine
from bot.monitoring.drift.engines.duckdb_engine import DuckDBEngine
from bot.monitoring.drift.engines.memory import duckdb_share, parse_size, process_rss


@pytest.mark.parametrize(
    ("text", "size"),
    [("2GB", 2 * 10**9), ("2 GiB", 2 * 2**30), ("300mb", 300 * 10**6), ("1.5GB", 1_500_000_000)],
)
def test_sizes_read_as_duckdb_reads_them(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_what_is_not_a_size_is_left_to_duckdb() -> None:
    assert parse_size("80%") is None and parse_size("lots") is None
    assert duckdb_share("lots") == "lots"


def test_the_share_leaves_room_for_the_process_and_has_a_floor() -> None:
    # 2e9 bytes: 15 % margin (300e6) and 300e6 held leave 1.4e9 bytes
    assert duckdb_share("2GB", held=300 * 10**6) == f"{1_400_000_000 // 2**20}MiB"
    assert duckdb_share("2GB", held=3 * 10**9) == f"{500_000_000 // 2**20}MiB"


def test_engines_built_from_the_settings_get_the_share(tmp_path) -> None:
    assert process_rss() > 10 * 2**20  # an interpreter with numpy and DuckDB loaded
    engine = make_engine("duckdb", EngineConfig(memory_limit="2GB", spill_dir=tmp_path))
    assert isinstance(engine, DuckDBEngine)
    share = parse_size(engine.memory_limit)
    # between the floor (a quarter, in whole MiB: the suite's process may hold over 1.2 GB
    # by now) and the limit less the margin and the interpreter
    floor = parse_size(duckdb_share("2GB", held=10**12))
    assert floor is not None and share is not None and floor <= share < 1_700_000_000 - 10 * 2**20
