"""Answers waiting for a busy channel's posting budget queue in order, and say so."""

from __future__ import annotations

from bots.slack.responder import ChannelQueues, waiting_status


def test_answers_queue_in_the_order_they_waited() -> None:
    queues = ChannelQueues()
    assert queues.join("T1/C1", "a") == 0
    assert queues.join("T1/C1", "b") == 1
    assert queues.join("T1/C1", "a") == 0  # joining again keeps the place
    assert queues.join("T1/C2", "c") == 0  # channels queue apart
    queues.leave("T1/C1", "a")
    assert queues.ahead("T1/C1", "b") == 0
    queues.leave("T1/C1", "b")
    queues.leave("T1/C1", "b")  # leaving twice is harmless
    assert queues.ahead("T1/C1", "b") is None


def test_the_waiting_status_says_how_many_are_ahead() -> None:
    assert waiting_status(0) == "is answering you next…"
    assert waiting_status(1) == "is answering 1 question ahead of yours…"
    assert waiting_status(3) == "is answering 3 questions ahead of yours…"
