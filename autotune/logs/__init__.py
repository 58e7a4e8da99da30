"""The log stage: one MetaSchedule JSON database per (target, workload), and its tools."""
