"""Anomaly alerts on orders and stock counts (weekly), scored against the demo's planted anomalies."""
