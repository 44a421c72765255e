"""Reading a dataset's rows from its declared source: synthetic generation, CSV/Parquet files
(through Arrow), and databases in the seed module's format."""
