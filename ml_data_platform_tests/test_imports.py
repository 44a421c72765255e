"""The training-side API stays light: `load_data` needs neither Dagster nor the database
drivers nor scikit-learn (a training script or notebook imports it on every start)."""

import subprocess
import sys


def test_load_data_imports_no_dagster_driver_or_sklearn():
    probe = (
        "import sys\n"
        "from ml_data_platform import load_data, load_frame\n"
        "print(sorted(m for m in ('dagster', 'duckdb', 'adbc_driver_sqlite', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
