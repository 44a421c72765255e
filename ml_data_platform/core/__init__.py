"""Pure data logic (pandas, numpy, scikit-learn); no Dagster import, so it is testable alone."""
