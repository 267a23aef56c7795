"""One Slack emulator for the local shell and the tests: a workspace that answers Web API calls
the way Slack does (standard library only, no Slack SDK).

* `workspace`: the state (messages, ephemeral messages, views, App Home, files, users, user
  groups, channels) and the `Change`s its observers see.
* `web_api`: one method per Web API method, with Slack's argument checks and errors.
* `blocks_check`: Block Kit and views checked against Slack's limits (`invalid_blocks`).

`tests/slack_fake.py` serves it over HTTP (and records calls, injects failures); the local shell
(`handlers/shell`) calls it in-process and prints each change.
"""
