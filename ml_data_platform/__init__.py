"""ml_data_platform: validated, leakage-free, reproducible training data on Dagster."""

from ml_data_platform.loading import ExportNotFoundError, load_data, load_frame

__all__ = ["ExportNotFoundError", "load_data", "load_frame"]
