"""Structured logs: trace IDs carried across threads; JSON lines."""

from __future__ import annotations

import io
import json
import logging

from bot import logs


def test_trace_id_follows_work_into_the_pool_threads() -> None:
    pool = logs.ContextExecutor(max_workers=2)
    try:
        rid = logs.new_trace_id()
        assert pool.submit(logs.TRACE_ID.get).result() == rid
        nested = pool.submit(lambda: pool.submit(logs.TRACE_ID.get).result(timeout=5))
        assert nested.result(timeout=5) == rid
    finally:
        logs.TRACE_ID.set("-")
        pool.shutdown()


def test_json_lines_carry_the_trace_id_and_the_exception() -> None:
    logs.tag_records()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("test.jsonlines")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        rid = logs.new_trace_id()
        logger.warning('quote " and ünïcode %s', "arg")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    finally:
        logs.TRACE_ID.set("-")
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["trace_id"] == rid and first["message"] == 'quote " and ünïcode arg'
    assert first["level"] == "WARNING" and first["at"].endswith("+00:00")
    assert second["trace_id"] == rid and "ValueError: boom" in second["exception"]
