"""Run a suite: tune what needs trials, then time every implementation into one table."""
