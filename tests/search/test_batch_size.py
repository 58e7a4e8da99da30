"""How many candidates a batch measures when tasks share one budget."""

from autotune.search.tune import FIRST_ROUND_TRIALS, MIN_SHARED_BATCH, UNLIMITED, batch_size


def test_one_task_measures_full_batches():
    assert batch_size(64, UNLIMITED, 1) == 64
    assert batch_size(64, 20, 1) == 20  # never more than the budget


def test_a_trial_budget_is_not_taken_by_one_task():
    assert batch_size(64, 20, 1) == 20
    assert batch_size(64, 1, 3) == 1


def test_the_first_round_leaves_half_the_budget_to_the_leaders():
    assert batch_size(64, 128, 2) == 32  # a conv and its blocked variant: 64 trials left
    assert batch_size(64, 20, 2) == 5
    assert batch_size(64, 1000, 2) == 64


def test_many_tasks_keep_their_first_round_short():
    assert batch_size(64, UNLIMITED, 4) == 64  # a conv's variants: unchanged
    network = batch_size(64, UNLIMITED, 31)  # a MobileNet's kernels under a time budget
    assert network == MIN_SHARED_BATCH and network * 31 <= FIRST_ROUND_TRIALS
    assert batch_size(64, UNLIMITED, 200) == MIN_SHARED_BATCH
    assert batch_size(8, UNLIMITED, 31) == 8  # a smaller batch asked for is kept
