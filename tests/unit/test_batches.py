"""The batcher: requests from many threads meet in batches (no database: settling is a
function that records what it was given)."""
import threading

import pytest

from payments.batches import Batcher


class Recorder:
    """Settles nothing: records each batch, and can be told to fail or to hold a batch."""

    def __init__(self, *, fail_once: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_once = fail_once
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, ids: list[int]) -> dict[int, str]:
        self.batches.append(list(ids))  # on entry: a held batch is already counted
        self.entered.set()
        self.release.wait(10)
        if self.fail_once:
            self.fail_once = False
            raise ConnectionError("the database went away")
        return {i: f"settled {i}" for i in ids}


def settle_from_threads(batcher: Batcher, ids: list[int]) -> dict[int, object]:
    results: dict[int, object] = {}

    def one(request_id: int) -> None:
        try:
            results[request_id] = batcher.settle(request_id)
        except Exception as exc:  # noqa: BLE001 - what each caller saw is the point
            results[request_id] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_a_lone_request_is_settled_on_its_own_and_gets_its_outcome():
    recorder = Recorder()
    assert Batcher(recorder, max_size=8, max_wait_s=0.002).settle(7) == "settled 7"
    assert recorder.batches == [[7]]


def test_requests_that_arrive_while_a_batch_is_written_meet_in_the_next_one():
    # Given a batcher whose first batch is held open while thirty more requests arrive
    recorder = Recorder()
    recorder.release.clear()
    batcher = Batcher(recorder, max_size=64, max_wait_s=0)
    first = threading.Thread(target=batcher.settle, args=(0,))
    first.start()
    assert recorder.entered.wait(10)
    waiting = threading.Thread(target=settle_from_threads, args=(batcher, list(range(1, 31))))
    waiting.start()
    while len(batcher.queue) < 30:
        threading.Event().wait(0.01)
    # When the first batch is released
    recorder.release.set()
    first.join(10)
    waiting.join(30)
    # Then the thirty were settled together, in one batch
    assert recorder.batches[0] == [0] and sorted(recorder.batches[1]) == list(range(1, 31))
    assert len(recorder.batches) == 2


def test_a_batch_never_holds_more_than_its_maximum():
    recorder = Recorder()
    recorder.release.clear()
    batcher = Batcher(recorder, max_size=4, max_wait_s=0)
    results_of = threading.Thread(target=settle_from_threads, args=(batcher, list(range(11))))
    results_of.start()
    # (every one of the eleven is either in the held first batch or waiting for the next)
    while len(batcher.queue) + sum(map(len, recorder.batches)) < 11:
        threading.Event().wait(0.01)
    recorder.release.set()
    results_of.join(30)
    assert max(len(b) for b in recorder.batches) <= 4
    assert sorted(i for b in recorder.batches for i in b) == list(range(11))


def test_every_caller_gets_its_own_outcome():
    results = settle_from_threads(Batcher(Recorder(), max_size=16, max_wait_s=0.002),
                                  list(range(50)))
    assert results == {i: f"settled {i}" for i in range(50)}


def test_a_failed_batch_raises_in_each_of_its_callers_and_the_next_batch_still_settles():
    recorder = Recorder(fail_once=True)
    batcher = Batcher(recorder, max_size=64, max_wait_s=0.05)
    failed = settle_from_threads(batcher, [1, 2, 3])
    assert {type(v) for v in failed.values()} == {ConnectionError}
    assert batcher.settle(4) == "settled 4"


def test_one_request_twice_in_a_batch_is_settled_once():
    recorder = Recorder()
    recorder.release.clear()
    batcher = Batcher(recorder, max_size=64, max_wait_s=0)
    first = threading.Thread(target=batcher.settle, args=(0,))
    first.start()
    assert recorder.entered.wait(10)
    twice = threading.Thread(target=settle_from_threads, args=(batcher, [5, 5]))
    # (two threads hold the same id: a message delivered twice)
    twice.start()
    while len(batcher.queue) < 2:
        threading.Event().wait(0.01)
    recorder.release.set()
    first.join(10)
    twice.join(10)
    assert recorder.batches[1] == [5]


@pytest.mark.parametrize("max_size", [1, 2])
def test_tiny_batches_still_settle_everything(max_size):
    recorder = Recorder()
    results = settle_from_threads(Batcher(recorder, max_size=max_size, max_wait_s=0),
                                  list(range(9)))
    assert len(results) == 9 and all(len(b) <= max_size for b in recorder.batches)
