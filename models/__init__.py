"""Statistical models of the CRM warehouse (pure Python: numpy, scipy, polars; no I/O)."""
