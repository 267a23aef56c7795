"""The local shell: a terminal Slack over the same Bolt listeners (no Slack app needed)."""
