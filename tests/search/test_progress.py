"""The tuning progress bar: what it says for one workload and for a network of them."""

from __future__ import annotations

from tvm.s_tir import meta_schedule as ms

from autotune.search.callbacks.progress import ProgressBar

SCHEDULER = ms.task_scheduler.RoundRobin()


def _results(*seconds):
    """Builder and runner results of candidates measured at ``seconds`` (None: failed)."""
    built = [ms.builder.BuilderResult("/nowhere", None) for _ in seconds]
    ran = [ms.runner.RunnerResult([s], None) if s else ms.runner.RunnerResult(None, "failed")
           for s in seconds]
    return built, ran


def test_several_tasks_show_the_weighted_sum_of_each_workloads_fastest_variant():
    # tasks 0 and 1 are two layouts of workload 0 (called 3 times), task 2 is workload 1
    bar = ProgressBar(None, None, "3 tasks", disable=True, groups=[0, 0, 1],
                      weights=[3.0, 3.0, 1.0])
    bar.apply(SCHEDULER, 0, [], *_results(2e-3))
    assert bar.network() == {"measured": "1/2"}
    bar.apply(SCHEDULER, 2, [], *_results(5e-3, None))
    assert bar.network() == {"kernels": f"{(3 * 2e-3 + 5e-3) * 1e3:.3f}ms"}
    bar.apply(SCHEDULER, 1, [], *_results(1e-3))  # the other layout is faster: it counts
    assert bar.network() == {"kernels": f"{(3 * 1e-3 + 5e-3) * 1e3:.3f}ms"}
    assert bar.failed == 1
    bar.close()
