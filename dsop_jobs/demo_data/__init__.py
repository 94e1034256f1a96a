"""Deterministic synthetic ERP export, external indicators and demand ground truth (``dsop generate``)."""
