"""CLV and churn scoring: BG/NBD + Gamma-Gamma on marts.fct_orders (docs/scoring.md)."""
