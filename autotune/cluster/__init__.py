"""Spread a suite over a Ray cluster: one Ray task per workload, each tuning and timing on
the worker that runs it; the logs come back to the driver as they grow (``snapshot``) and
are merged into its log directory (``ray_suite``)."""
