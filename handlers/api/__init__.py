"""The bot's HTTP API for pipelines (`/api/v1/…`), served by handlers.transport.http.

It lives among the handlers because opening a request posts its card in Slack (the same
posting path as `/mlops promote`); who a pipeline is and what it may ask is bot.pipelines.
"""
