-- Run once by the postgres image on an empty data directory (compose.yaml): MLflow's tables
-- live in a database of their own (both it and the bot keep an `alembic_version` table).
CREATE DATABASE mlflow;
