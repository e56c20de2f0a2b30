"""The job scheduler behind reconnect windows: due order, replacement, cancellation and failing jobs."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from module2_session.timers import JobScheduler

WAIT = 10.0


@pytest.fixture
def scheduler() -> Iterator[JobScheduler]:
    jobs = JobScheduler(name="test-jobs")
    yield jobs
    jobs.close()


def test_jobs_run_in_due_order(scheduler) -> None:
    ran: list[str] = []
    done = threading.Event()

    scheduler.schedule("late", 0.3, lambda: (ran.append("late"), done.set()))
    scheduler.schedule("early", 0.05, lambda: ran.append("early"))

    assert done.wait(WAIT)
    assert ran == ["early", "late"]


def test_same_key_replaces_job(scheduler) -> None:
    ran: list[str] = []
    done = threading.Event()

    scheduler.schedule("window", 0.1, lambda: ran.append("first"))
    scheduler.schedule("window", 0.2, lambda: (ran.append("second"), done.set()))

    assert done.wait(WAIT)
    assert ran == ["second"]
    assert not scheduler.pending("window")


def test_cancel_drops_job(scheduler) -> None:
    ran: list[str] = []
    done = threading.Event()
    scheduler.schedule("window", 0.1, lambda: ran.append("cancelled"))

    assert scheduler.pending("window")
    assert scheduler.cancel("window") is True
    assert scheduler.cancel("window") is False
    scheduler.schedule("marker", 0.2, done.set)

    assert done.wait(WAIT)
    assert ran == []


def test_failing_job_keeps_thread(scheduler, caplog) -> None:
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    scheduler.submit(fail)
    scheduler.submit(done.set)

    assert done.wait(WAIT)
    assert "scheduled job" in caplog.text


def test_closed_scheduler_drops_jobs() -> None:
    jobs = JobScheduler(name="closed-jobs")
    jobs.close()
    ran: list[str] = []

    jobs.schedule("late", 0.0, lambda: ran.append("late"))

    assert not jobs.pending("late")
    assert ran == []


def test_is_worker_thread(scheduler) -> None:
    seen: list[bool] = []
    done = threading.Event()

    scheduler.submit(lambda: (seen.append(scheduler.is_worker_thread()), done.set()))

    assert done.wait(WAIT)
    assert seen == [True]
    assert scheduler.is_worker_thread() is False
