"""The search stage: MetaSchedule tuning of workloads into their logs, and what drives it
(options and budget, search strategy, task scheduler, cost model, builder, callbacks,
tensor intrinsics, and the schedules a new search starts from)."""
