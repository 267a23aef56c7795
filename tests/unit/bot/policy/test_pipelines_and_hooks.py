"""`[pipelines.<name>]` and `[[models.<name>.deploy]]`: bad values stop the start, named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.policy.file import DeployFormat, PolicyError, PolicyFile, read_policy_file

DIGEST = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
GOOD = f"""
[models.churn]
[[models.churn.deploy]]
url = "https://deploy.example.com/churn"
aliases = ["champion"]
secret_env = "CHURN_DEPLOY_SECRET"

[pipelines.ci]
token_sha256 = "{DIGEST}"
models = ["churn"]
aliases = ["champion"]
channel = "C0MLOPS"
"""


def _read(tmp_path: Path, text: str) -> PolicyFile:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return read_policy_file(path)


def test_a_good_section_loads(tmp_path: Path) -> None:
    policy = _read(tmp_path, GOOD)
    hook = policy.models["churn"].deploy[0]
    assert hook.format == DeployFormat.STANDARD and hook.aliases == ["champion"]
    assert policy.pipelines["ci"].token_sha256 == DIGEST


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (
            '"https://deploy.example.com/churn"',
            '"ftp://deploy.example.com/x"',
            "models.churn.deploy.0.url: must be an absolute http(s) URL",
        ),
        (
            '"https://deploy.example.com/churn"',
            '"https:///no-host"',
            "models.churn.deploy.0.url: must be an absolute http(s) URL",
        ),
        (
            '"https://deploy.example.com/churn"',
            '"https://u:p@deploy.example.com/"',
            "models.churn.deploy.0.url: must not carry credentials",
        ),
        (
            '"CHURN_DEPLOY_SECRET"',
            '"CHURN-SECRET"',
            "models.churn.deploy.0.secret_env: not an environment variable name",
        ),
        (
            'aliases = ["champion"]\nsecret_env',
            "aliases = []\nsecret_env",
            "models.churn.deploy.0.aliases: List should have at least 1 item",
        ),
        (
            'secret_env = "CHURN_DEPLOY_SECRET"',
            'secret_env = "X"\nformat = "gitlab"',
            "models.churn.deploy.0.format: Input should be 'standard' or 'github_dispatch'",
        ),
        (
            f'"{DIGEST}"',
            '"abc"',
            "pipelines.ci.token_sha256: must be the SHA-256 of the token as 64 hex digits",
        ),
        ('"C0MLOPS"', '"#mlops"', "pipelines.ci.channel: not a Slack channel ID"),
        ("[pipelines.ci]", "[pipelines.'c i']", "pipelines: pipeline names are letters"),
        (
            'channel = "C0MLOPS"',
            'channel = "C0MLOPS"\n[pipelines.other]\nmodels = ["x"]\naliases = ["y"]\n'
            f'channel = "C0X"\ntoken_sha256 = "{DIGEST.upper()}"',
            "pipelines: two pipelines have the same token_sha256",
        ),
    ],
)
def test_a_bad_value_is_a_policy_error_naming_the_key(
    tmp_path: Path, old: str, new: str, error: str
) -> None:
    assert old in GOOD
    with pytest.raises(PolicyError) as caught:
        _read(tmp_path, GOOD.replace(old, new, 1))
    assert error in str(caught.value)
    assert "\n" not in str(caught.value)
