"""The in-database path's data logic: the same rules as the pandas core, expressed as SQL a
DuckDB connection runs over stored tables, so no stage holds a table in Python. Each module
mirrors a pandas one (validation, contract, profile, splitting, preprocessing) and is tested
to give the same answers on the same rows."""
