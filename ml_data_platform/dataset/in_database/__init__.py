"""The in-database forms of the stages (catalog/execution.py decides which datasets use them):
each stage module calls into its namesake here when its plan runs in the database. Same asset
keys, checks, metadata keys and exports; the rows stay in DuckDB."""
