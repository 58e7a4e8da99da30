"""Vendor-library baselines: the same workload computed by other implementations."""
