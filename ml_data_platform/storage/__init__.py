"""Where the platform keeps things: tables (an IO manager base plus one small subclass per
backend), Parquet exports, fitted artifacts and the failure log.

Nothing is imported here: `load_data` reads exports through `storage.exports` without
pulling in Dagster or the database drivers that the IO managers need.
"""
