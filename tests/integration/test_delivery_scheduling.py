"""Outbound delivery scheduling (issue 4; docs/delivery.md "Connections" and "Scheduling"):
connection reuse and the idle QUIT, messages per connection, concurrent connections and
messages per minute per destination, and back-off after 421 / repeated 4xx that rests one
destination only. Real peers on loopback: dnsmasq (MX/A → 127.0.0.x) and aiosmtpd receivers
that count sessions (tests/lib/smtp_receiver.py). Run with /usr/bin/python3.
"""
import time
from datetime import datetime

import pytest

pytest.importorskip("aiosmtpd")

from delivery_env import HOSTS, dns_for, queue_list, send, start  # noqa: E402
from dns_server import available as dns_available  # noqa: E402
from petrel_harness import wait_until  # noqa: E402
from smtp_receiver import Receiver, free_port_on  # noqa: E402

if not dns_available():
    pytest.skip("dnsmasq not installed", allow_module_level=True)

MX1 = "127.0.0.2"    # mx1.dest.test (dest.test's best MX)
PLAIN = "127.0.0.5"  # plain.test (implicit MX)


@pytest.fixture
def port():
    return free_port_on(HOSTS)


def per_session(r: Receiver) -> dict[int, int]:
    counts: dict[int, int] = {}
    for m in r.messages:
        counts[m.session_no] = counts.get(m.session_no, 0) + 1
    return counts


def test_messages_reuse_one_connection_and_idle_connection_quits(petrel_factory, port):
    """Three messages sent one after another, each after the previous one arrived, travel over
    one connection (petrel waits idle_timeout for more work); with nothing more to send it
    QUITs about idle_timeout after the last message, not before."""
    idle = 3
    with dns_for() as dns, Receiver(MX1, port) as mx1:
        inst = start(petrel_factory, dns, port, {"idle_timeout_seconds": idle})
        for n in range(1, 4):
            send(inst, [f"reuse{n}@dest.test"])
            mx1.wait_for(n)
        last = time.monotonic()
        assert mx1.sessions == 1, f"{mx1.sessions} sessions for 3 messages"
        assert per_session(mx1) == {1: 3}
        assert mx1.quits == 0, "the connection is kept while idle"
        wait_until(lambda: mx1.quits == 1, idle + 5, what="QUIT after the idle time")
        quit_at = [t for t, _, kind in mx1.events if kind == "quit"][0]
        assert quit_at - last >= idle - 0.5, f"QUIT after {quit_at - last:.2f}s, idle is {idle}s"
        wait_until(lambda: mx1.active == 0, 5, what="the connection closed")


@pytest.mark.parametrize("goodbye", [None, "421 4.4.2 mx1 Error: timeout exceeded"],
                         ids=["silent-close", "421-then-close"])
def test_connection_closed_by_the_server_while_idle_is_not_a_failure(petrel_factory, port,
                                                                      goodbye):
    """The receiver drops connections idle for 1 s (silently, or with a 421 first as Postfix
    does), petrel keeps its own idle connection 5 s: the next message finds the connection
    dead, goes over a fresh one at once, is delivered once, nothing is deferred and the
    destination is not paused."""
    with dns_for() as dns, Receiver(MX1, port, idle_close=1.0, idle_close_reply=goodbye) as mx1:
        inst = start(petrel_factory, dns, port, {"idle_timeout_seconds": 5,
                                                 "destination_backoff_seconds": 30,
                                                 "max_retry_seconds": 30,
                                                 "first_retry_seconds": 30})
        send(inst, ["first@dest.test"])
        mx1.wait_for(1)
        wait_until(lambda: mx1.active == 0, 5, what="the receiver closing the idle connection")
        t0 = time.monotonic()
        send(inst, ["second@dest.test"])
        mx1.wait_for(2, timeout=10)
        assert time.monotonic() - t0 < 4, "delivered at once, not after a retry"
        assert mx1.sessions == 2 and per_session(mx1) == {1: 1, 2: 1}
        wait_until(lambda: not queue_list(inst), 5, what="an empty queue")
        log = inst.output()
        assert "status=deferred" not in log and "paused" not in log, log[-1500:]


def test_messages_per_connection_limit(petrel_factory, port):
    """One connection at a time, two messages per connection: five messages need three
    sessions carrying 2, 2 and 1, each ended with QUIT."""
    with dns_for() as dns, Receiver(MX1, port) as mx1:
        inst = start(petrel_factory, dns, port, {
            "idle_timeout_seconds": 5,
            "destination": [{"domains": ["dest.test"], "max_connections": 1,
                             "messages_per_connection": 2}]})
        for n in range(5):
            send(inst, [f"limit{n}@dest.test"])
        mx1.wait_for(5)
        assert sorted(per_session(mx1).values(), reverse=True) == [2, 2, 1], per_session(mx1)
        assert mx1.sessions == 3 and mx1.max_active == 1
        wait_until(lambda: mx1.quits >= 2, 5, what="QUIT on the two full connections")


def test_max_concurrent_connections_per_destination(petrel_factory, port):
    """A slow receiver (1 s per DATA): dest.test, limited to 2 connections, never sees more than
    2 sessions at once for 6 messages; plain.test with the default limit gets 3 at once for 3
    messages (the counter does see concurrency)."""
    with dns_for() as dns, Receiver(MX1, port, data_delay=1.0) as mx1, \
            Receiver(PLAIN, port, data_delay=1.0) as plain:
        inst = start(petrel_factory, dns, port, {
            "idle_timeout_seconds": 2,
            "destination": [{"domains": ["dest.test"], "max_connections": 2}]})
        for n in range(6):
            send(inst, [f"conc{n}@dest.test"])
        for n in range(3):
            send(inst, [f"conc{n}@plain.test"])
        mx1.wait_for(6, timeout=20)
        plain.wait_for(3, timeout=20)
        assert mx1.max_active == 2, f"dest.test: {mx1.max_active} sessions at once, limit 2"
        assert mx1.sessions == 2, "waiting messages reuse the two connections"
        assert plain.max_active == 3, f"plain.test: {plain.max_active} sessions at once"


def test_messages_per_minute_per_destination(petrel_factory, port):
    """messages_per_minute = 2: of four messages, two go at once and two wait for the
    one-minute window (still queued a few seconds later); plain.test is not limited."""
    with dns_for() as dns, Receiver(MX1, port) as mx1, Receiver(PLAIN, port) as plain:
        inst = start(petrel_factory, dns, port, {
            "destination": [{"domains": ["dest.test"], "messages_per_minute": 2}]})
        qids = [send(inst, [f"rate{n}@dest.test"]) for n in range(4)]
        mx1.wait_for(2)
        for n in range(3):
            send(inst, [f"rate{n}@plain.test"])
        plain.wait_for(3, timeout=10)
        time.sleep(2)
        assert len(mx1.messages) == 2 and mx1.mail_count == 2
        waiting = {m["id"] for m in queue_list(inst)}
        assert waiting <= set(qids) and len(waiting) == 2, waiting


def test_421_pauses_that_destination_only(petrel_factory, port):
    """mx1 answers 421 to a recipient: dest.test is paused (destination_backoff_seconds) and
    later mail for it is deferred with 4.4.5 without a connection; plain.test still gets its
    mail at once."""
    replies = {"busy@dest.test": "421 4.7.0 too busy, closing"}
    with dns_for() as dns, Receiver(MX1, port, rcpt_replies=replies) as mx1, \
            Receiver(PLAIN, port) as plain:
        inst = start(petrel_factory, dns, port, {"destination_backoff_seconds": 30,
                                                 "max_retry_seconds": 30})
        busy = send(inst, ["busy@dest.test"])
        wait_until(lambda: "destination mx:dest.test paused" in inst.output(), 10,
                   what="dest.test paused")
        paused_at = time.time()
        tried = mx1.mail_count
        qid = send(inst, ["later@dest.test"])
        t0 = time.monotonic()
        send(inst, ["fine@plain.test"])
        plain.wait_for(1, timeout=5)
        assert time.monotonic() - t0 < 3, "the healthy destination was not held back"
        entry = wait_until(lambda: [m for m in queue_list(inst)
                                    if m["id"] == qid and m["attempts"] >= 1], 10,
                           what="the deferral of the paused destination's mail")[0]
        assert "4.4.5" in entry["recipients"][0]["last_error"], entry
        assert mx1.mail_count == tried, "nothing was sent to the paused destination"
        assert mx1.messages == []
        # The message that met the 421 waits for the end of the pause too (docs/delivery.md:
        # never retried before a paused destination resumes), not first_retry_seconds (1).
        time.sleep(max(0.0, paused_at + 2.5 - time.time()))
        [m] = [m for m in queue_list(inst) if m["id"] == busy]
        assert m["attempts"] == 1, m
        resume = datetime.fromisoformat(m["next_attempt"].replace("Z", "+00:00")).timestamp()
        assert resume >= paused_at + 25, (m["next_attempt"], paused_at)


def test_three_temporary_failures_pause_the_destination(petrel_factory, port):
    """Three all-4xx transactions in a row to dest.test pause it; mail to plain.test flows."""
    replies = {f"full{n}@dest.test": "452 4.2.2 mailbox full" for n in range(3)}
    with dns_for() as dns, Receiver(MX1, port, rcpt_replies=replies) as mx1, \
            Receiver(PLAIN, port) as plain:
        inst = start(petrel_factory, dns, port, {"destination_backoff_seconds": 30,
                                                 "max_retry_seconds": 30,
                                                 "first_retry_seconds": 30})
        for n in range(3):
            send(inst, [f"full{n}@dest.test"])
            wait_until(lambda: mx1.mail_count == n + 1, 10, what=f"transaction {n + 1}")
        wait_until(lambda: "destination mx:dest.test paused" in inst.output(), 10,
                   what="dest.test paused after three 4xx transactions")
        qid = send(inst, ["ok@dest.test"])
        send(inst, ["ok@plain.test"])
        plain.wait_for(1, timeout=5)
        wait_until(lambda: [m for m in queue_list(inst) if m["id"] == qid and m["attempts"] >= 1],
                   10, what="the deferral")
        assert mx1.mail_count == 3 and mx1.messages == []


def test_sigterm_quits_idle_connections(petrel_factory, port):
    """docs/delivery.md "Stopping": on SIGTERM an idle outbound connection is closed with QUIT
    at once, not held for its idle time (30 s here)."""
    with dns_for() as dns, Receiver(MX1, port) as mx1:
        inst = start(petrel_factory, dns, port, {"idle_timeout_seconds": 30})
        send(inst, ["bye@dest.test"])
        mx1.wait_for(1)
        wait_until(lambda: not queue_list(inst), 5, what="an empty queue")
        assert mx1.quits == 0 and mx1.active == 1
        t0 = time.monotonic()
        inst.stop()
        assert time.monotonic() - t0 < 5
        wait_until(lambda: mx1.quits == 1 and mx1.active == 0, 5, what="QUIT and close")
