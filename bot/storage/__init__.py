"""The database: engine and sessions, tables, migrations, delivery IDs already handled."""
