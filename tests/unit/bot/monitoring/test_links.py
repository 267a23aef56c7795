"""Signed report page links: built on the public URL, refused when altered, expired on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.clock import FixedClock
from bot.config import Settings
from bot.monitoring.links import LinkCheck, check_link, link_key, page_link

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def link_parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return parts.path.rsplit("/", 1)[1], query["expires"][0], query["sig"][0]


def test_link_is_built_on_the_public_url_and_checks_until_it_expires() -> None:
    cfg = settings(
        mlops_bot_public_url="https://bot.example.com/mlops/",
        slack_signing_secret="s3cret",
        mlops_bot_report_link_ttl_hours=2,
    )
    link = page_link(cfg, "abc123def456", NOW)
    assert link is not None
    url, until = link
    assert url.startswith("https://bot.example.com/mlops/reports/abc123def456?expires=")
    assert until == NOW + timedelta(hours=2)
    key = link_key(cfg)
    assert key is not None
    rid, expires, sig = link_parts(url)
    clock = FixedClock(NOW)
    assert check_link(key, rid, expires, sig, clock.now()) is LinkCheck.VALID
    assert check_link(key, rid, expires, sig.upper(), clock.now()) is LinkCheck.VALID
    clock.advance(timedelta(hours=2))
    assert check_link(key, rid, expires, sig, clock.now()) is LinkCheck.EXPIRED


@pytest.mark.parametrize(
    "change",
    ["other id", "later expiry", "flipped signature", "no signature", "junk expiry", "unicode"],
)
def test_an_altered_link_is_refused(change: str) -> None:
    cfg = settings(mlops_bot_public_url="https://bot.example.com", mlops_bot_report_link_secret="k")
    link = page_link(cfg, "abc123def456", NOW)
    assert link is not None
    rid, expires, sig = link_parts(link[0])
    if change == "other id":
        rid = "abc123def457"
    elif change == "later expiry":
        expires = str(int(expires) + 3600)
    elif change == "flipped signature":
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    elif change == "no signature":
        sig = ""
    elif change == "junk expiry":
        expires = "-1"
    else:
        sig = "é" * 64
    assert check_link(b"k", rid, expires, sig, NOW) is LinkCheck.BAD
    # an expired link with a wrong signature says "bad", not "expired"
    assert check_link(b"k", rid, expires, sig, NOW + timedelta(days=400)) is LinkCheck.BAD


def test_keys_differ_by_secret_and_links_need_a_url_and_a_secret() -> None:
    signing = settings(slack_signing_secret="s3cret")
    explicit = settings(slack_signing_secret="s3cret", mlops_bot_report_link_secret="other")
    assert link_key(signing) not in (None, b"s3cret")  # derived, not the signing secret itself
    assert link_key(explicit) == b"other"
    assert link_key(settings()) is None
    assert page_link(signing, "abc", NOW) is None  # no public URL (Socket Mode, the shell)
    assert page_link(settings(mlops_bot_public_url="https://x.example"), "abc", NOW) is None


@pytest.mark.parametrize("url", ["bot.example.com", "ftp://x.example", "https://", "https://x?a=1"])
def test_a_public_url_that_is_no_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="MLOPS_BOT_PUBLIC_URL|not a base URL"):
        settings(mlops_bot_public_url=url)
