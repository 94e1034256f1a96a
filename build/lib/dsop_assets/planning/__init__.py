"""Production planning (MILP) and purchase recommendations: plain functions over Polars frames."""
