"""How Slack reaches the bot: HTTP (Starlette + uvicorn) and Socket Mode."""
