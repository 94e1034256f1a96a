"""Simulation: Monte Carlo inventory policies (weekly) and the beer game with its tier classifier."""
