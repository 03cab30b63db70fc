"""A Slack workspace in a process of its own: the fake Slack and the people asking in it.

``python -m devtools.slack.workspace --events-url URL --signing-secret S --answers N
--threads T --concurrency C`` starts a :class:`~devtools.slack.fake.FakeSlack` on a free port
of 127.0.0.1 and prints its Web API URL as one JSON line (``{"api_url": "http://…/api/"}``),
so the process under measurement can point ``SLACK_API_URL`` at it. Then each line read on
stdin runs one phase, and its summary is printed as one JSON line:

* ``warm-up``: ``--warm-up`` answers one after another in one thread of a channel of its own
  (a mention, then follow-ups), to warm connections, caches and the Gloo chat path;
* ``start``: ``N`` answers spread over ``T`` threads, at most ``C`` unanswered at a time.

A thread starts with a signed ``app_mention`` (Events API over HTTP, posted to
``--events-url``). Each later question in it is a plain ``message`` event in the thread
(``message.channels``, no mention): the adapter answers those in a thread the bot is in
(:meth:`bots.slack.handlers.SlackHandlers.on_message`). A thread's next question is posted
once its previous answer is complete, that is once the answer's final change arrived: the
message showing it got its 👍/👎 buttons (``chat.stopStream``, the fallback's final
``chat.update``, or a posted message carrying the whole answer).

The fake keeps Slack's published rate limits of one workspace (one team, the default
:class:`~devtools.slack.fake.SlackLimits`) and refuses a message edited again within a
second, as the P5 bench does. Each thread asks in a channel of its own (``--channels 0``, the
default): ``chat.postMessage`` is limited per channel (1 a second, bursts of 2), and a
channel with one answer at a time never waits for it, while the workspace-wide limits
(``chat.startStream``/``stopStream`` 20 and ``chat.update`` 50 a minute) still apply as in
any one workspace.

The summary of a phase: ``asked``, ``answers`` (complete), ``errors`` (not complete within
``--within`` seconds, or refused by the product), ``refused`` (events not answered HTTP
200), ``seconds``, and the Slack calls that arrived during the phase: ``calls``,
``calls_by_method``, ``http_429`` and ``http_429_by_method``. End of stdin closes the fake
and ends the process. All of the driver's CPU (signing, posting, the fake's validation) is
this process's, not the product's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from core.logs import configure_logging
from devtools.bench import bench_question
from devtools.slack.bench import EDIT_WINDOW, mention_event, post_event
from devtools.slack.fake import BOT_USER_ID, TEAM_ID, FakeSlack, Message

__all__ = ["Phase", "Workspace", "follow_up_event", "main"]

#: Seconds an answer may take to complete before it counts as an error.
ANSWER_WITHIN: Final = 120.0
WARM_UP: Final = 5


@dataclass(frozen=True)
class Phase:
    """One run of questions: how many, in how many threads, how many unanswered at once."""

    name: str
    answers: int
    threads: int
    concurrency: int
    #: Channels the threads are spread over (0: one per thread).
    channels: int = 0
    #: Tells the phase's event, user and channel ids apart from other phases'.
    tag: str = "COST"

    def channel(self, thread: int) -> str:
        count = self.channels or self.threads
        return f"C0{self.tag}{thread % count:04d}"

    def questions(self, thread: int) -> range:
        """The indexes of the questions asked in ``thread``, in order."""
        return range(thread, self.answers, self.threads)


def follow_up_event(
    index: int, ts: str, thread_ts: str, *, channel: str, user: str, tag: str
) -> dict[str, Any]:
    """The Events API body of a plain message by ``user`` in the thread ``thread_ts`` of
    ``channel`` (docs.slack.dev/reference/events/message.channels; the same shape as
    ``tests/bots/slack/payloads/message_channels.json``), asking question ``index``."""
    return {
        "token": "bench",
        "team_id": TEAM_ID,
        "api_app_id": "A0GLOOAPP",
        "event": {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": bench_question(index),
            "user": user,
            "ts": ts,
            "thread_ts": thread_ts,
            "parent_user_id": user,
            "team": TEAM_ID,
            "blocks": [],
            "channel": channel,
            "event_ts": ts,
            "channel_type": "channel",
        },
        "type": "event_callback",
        "event_id": f"Ev{tag}F{index:06d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


@dataclass
class _Waiting:
    """A question whose answer is not complete yet."""

    asked_ts: float
    done: asyncio.Future[None]


class Workspace:
    """People asking in one Slack workspace (the fake) through the product's Events URL."""

    def __init__(
        self,
        fake: FakeSlack,
        events_url: str,
        signing_secret: str,
        *,
        within: float = ANSWER_WITHIN,
    ) -> None:
        self._fake = fake
        self._url = events_url
        self._secret = signing_secret
        self._within = within
        #: (channel, thread ts) → the question of that thread waiting for its answer.
        self._waiting: dict[tuple[str, str], _Waiting] = {}
        self._seen = 0  # entries of fake.completed looked at
        self._last_ts = 0.0
        self._refused = 0

    def _new_ts(self) -> str:
        """A message ts as Slack makes them (the time, unique and increasing): the answers
        the fake posts later get a greater one."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    async def run(self, phase: Phase) -> dict[str, Any]:
        """Ask every question of ``phase`` and wait for the answers; the phase's summary."""
        first_call = len(self._fake.calls)
        self._refused = 0
        gate = asyncio.Semaphore(phase.concurrency)
        started = time.perf_counter()
        watcher = asyncio.create_task(self._watch())
        try:
            async with aiohttp.ClientSession() as session:
                threads = range(min(phase.threads, phase.answers))
                outcomes = await asyncio.gather(
                    *(self._thread(session, phase, thread, gate) for thread in threads)
                )
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        seconds = time.perf_counter() - started
        calls = self._fake.calls[first_call:]
        limited = Counter(call.method for call in calls if call.status == 429)
        answered = sum(sum(thread) for thread in outcomes)
        return {
            "phase": phase.name,
            "asked": phase.answers,
            "answers": answered,
            "errors": phase.answers - answered,
            "refused": self._refused,
            "seconds": round(seconds, 3),
            "calls": len(calls),
            "calls_by_method": dict(Counter(call.method for call in calls).most_common()),
            "http_429": sum(limited.values()),
            "http_429_by_method": dict(limited.most_common()),
        }

    async def _thread(
        self, session: aiohttp.ClientSession, phase: Phase, thread: int, gate: asyncio.Semaphore
    ) -> list[bool]:
        """Ask the questions of one thread in turn; whether each was answered."""
        channel = phase.channel(thread)
        root: str | None = None
        user = ""
        outcomes: list[bool] = []
        for index in phase.questions(thread):
            async with gate:
                ts = self._new_ts()
                if root is None:
                    body = mention_event(index, ts, channel=channel, tag=phase.tag)
                    user = str(body["event"]["user"])
                    thread_ts = ts
                else:
                    body = follow_up_event(
                        index, ts, root, channel=channel, user=user, tag=phase.tag
                    )
                    thread_ts = root
                answered = await self._ask(session, body, channel, thread_ts, float(ts))
            outcomes.append(answered)
            # A thread whose first answer never came is not one the bot is in: mention again.
            root = thread_ts if answered or root is not None else None
        return outcomes

    async def _ask(
        self,
        session: aiohttp.ClientSession,
        body: dict[str, Any],
        channel: str,
        thread_ts: str,
        asked_ts: float,
    ) -> bool:
        """Post one question and wait for its answer to complete (False: it did not)."""
        key = (channel, thread_ts)
        waiting = _Waiting(asked_ts, asyncio.get_running_loop().create_future())
        self._waiting[key] = waiting
        try:
            status = await post_event(session, self._url, body, signing_secret=self._secret)
            if status != 200:
                self._refused += 1
                return False
            await asyncio.wait_for(waiting.done, self._within)
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting.pop(key, None)

    async def _watch(self) -> None:
        """Resolve each waiting question as its thread gets a complete answer after it."""
        fake = self._fake
        while True:
            with contextlib.suppress(TimeoutError):
                await fake.wait_for(lambda: len(fake.completed) > self._seen, 3600)
            fresh, self._seen = fake.completed[self._seen :], len(fake.completed)
            for message in fresh:
                self._complete(message)

    def _complete(self, message: Message) -> None:
        waiting = self._waiting.get((message.channel, message.thread_ts or ""))
        if waiting is None or float(message.ts) <= waiting.asked_ts or waiting.done.done():
            return
        waiting.done.set_result(None)


def _emit(summary: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(summary) + "\n")
    sys.stdout.flush()


async def _serve(args: argparse.Namespace) -> int:
    fake = await FakeSlack(edit_interval=EDIT_WINDOW).start()
    try:
        _emit({"api_url": fake.api_url})
        workspace = Workspace(fake, args.events_url, args.signing_secret, within=args.within)
        phases = {
            "warm-up": Phase("warm-up", args.warm_up, 1, 1, tag="WARM"),
            "start": Phase(
                "start", args.answers, args.threads, args.concurrency, channels=args.channels
            ),
        }
        while line := await asyncio.to_thread(sys.stdin.readline):
            phase = phases.get(line.strip())
            if phase is None:
                _emit({"error": f"unknown phase {line.strip()!r}; say one of {sorted(phases)}"})
                continue
            _emit(await workspace.run(phase))
    finally:
        await fake.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.slack.workspace", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--events-url", required=True, help="the product's /slack/events")
    parser.add_argument("--signing-secret", required=True, help="the product's signing secret")
    parser.add_argument("--answers", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True, help="unanswered at most")
    parser.add_argument("--channels", type=int, default=0, help="0 (default): one per thread")
    parser.add_argument("--warm-up", type=int, default=WARM_UP, help="answers of the warm-up")
    parser.add_argument("--within", type=float, default=ANSWER_WITHIN, help="s per answer")
    args = parser.parse_args(argv)
    configure_logging(level="WARNING")
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    raise SystemExit(main())
