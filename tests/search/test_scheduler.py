"""The task scheduler's choice between layout variants: the budget follows the leader."""

from __future__ import annotations

import pytest

from autotune.search.scheduler import GradientScheduler


def _scheduler(groups):
    sched = GradientScheduler(lambda i: (0, 0.0), groups=groups)
    # Three rounds of bests: tasks 0 and 1 are variants of one workload, 2 is another.
    sched.history = {0: [400e-6, 350e-6, 300e-6], 1: [160e-6, 155e-6, 150e-6],
                     2: [500e-6, 500e-6, 500e-6]}
    return sched


def test_tvms_gain_alone_favours_the_slower_variant():
    sched = _scheduler(None)
    assert sched._gain(0, 1.0) > sched._gain(1, 1.0)  # pylint: disable=protected-access


def test_a_variant_behind_its_group_is_discounted_and_others_are_not():
    plain, grouped = _scheduler(None), _scheduler([0, 0, 1])
    # pylint: disable=protected-access
    assert grouped._gain(1, 1.0) > grouped._gain(0, 1.0)
    assert grouped._gain(1, 1.0) == plain._gain(1, 1.0)  # the leader keeps TVM's gain
    assert grouped._gain(0, 1.0) == pytest.approx(plain._gain(0, 1.0) * (150 / 300) ** 4)
    assert grouped._gain(2, 2.0) == plain._gain(2, 2.0)  # alone in its group
