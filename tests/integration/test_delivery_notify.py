"""Delivery status notifications chosen by RCPT TO's NOTIFY (RFC 3461 §4.1; docs/delivery.md
"Bounces and other reports"): SUCCESS → a report with Action: relayed (SMTP next hop without
DSN) or delivered (Maildir), or NOTIFY passed on to a next hop with DSN; DELAY → one report
with Action: delayed after delay_warning_seconds, NEVER → no report on a 5xx while a FAILURE
recipient of the same message gets one. Real peers on loopback (dnsmasq, aiosmtpd); reports
arrive at the sender domain's MX and are parsed with Python's `email`. Run with /usr/bin/python3.
"""
import smtplib
import time
import uuid

import pytest

pytest.importorskip("aiosmtpd")

from delivery_env import (HOSTS, SENDER, SENDER_MX, body, dns_for, parse,  # noqa: E402
                          queue_list, report_blocks, start, wait_queue_empty)
from dns_server import available as dns_available  # noqa: E402
from petrel_harness import wait_until  # noqa: E402
from smtp_receiver import Receiver, free_port_on  # noqa: E402

if not dns_available():
    pytest.skip("dnsmasq not installed", allow_module_level=True)

MX1 = "127.0.0.2"


@pytest.fixture
def port():
    return free_port_on(HOSTS)


def send_notify(inst, rcpts: dict[str, str]) -> str:
    """One message whose recipients carry their own NOTIFY= (rcpt → "SUCCESS", "NEVER", ...)."""
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), local_hostname="client.test", timeout=10) as s:
        code, resp = s.ehlo("client.test")
        assert s.has_extn("dsn"), "petrel's mx listener offers DSN"
        code, resp = s.mail(SENDER, ["ENVID=env-" + uuid.uuid4().hex[:8]])
        assert code == 250, resp
        for rcpt, notify in rcpts.items():
            code, resp = s.rcpt(rcpt, [f"NOTIFY={notify}"])
            assert code == 250, (rcpt, code, resp)
        code, resp = s.data(body(uuid.uuid4().hex))
        assert code == 250, resp
    return resp.decode().rsplit(" ", 1)[1]


def recipients_of(blocks) -> dict[str, dict]:
    return {b["Final-Recipient"].split(";")[1].strip(): b for b in blocks[1:]}


def test_notify_success_reports_relayed_and_delivered(petrel_factory, port):
    """NOTIFY=SUCCESS: relayed by SMTP to a server without DSN → Action: relayed (RFC 3461
    §5.2.3); stored in a local Maildir → Action: delivered (§6.3). One report for both; the
    NOTIFY=FAILURE recipient is not in it."""
    with dns_for() as dns, Receiver(MX1, port) as mx1, Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port)
        send_notify(inst, {"sue@dest.test": "SUCCESS", "quiet@dest.test": "FAILURE",
                           "tom@example.test": "SUCCESS"})
        [relayed] = mx1.wait_for(1)
        assert sorted(relayed.rcpts) == ["quiet@dest.test", "sue@dest.test"]
        [report] = home.wait_for(1)
        assert report.sender in ("", "<>") and report.rcpts == [SENDER]
        msg = parse(report.data)
        assert msg["Subject"] == "Successful Mail Delivery Report"
        blocks = report_blocks(msg)
        per = recipients_of(blocks)
        assert set(per) == {"sue@dest.test", "tom@example.test"}, per.keys()
        assert per["sue@dest.test"]["Action"] == "relayed"
        assert per["tom@example.test"]["Action"] == "delivered"
        assert all(b["Status"].startswith("2.") for b in per.values())
        assert blocks[0]["Original-Envelope-Id"].startswith("env-")
        wait_queue_empty(inst)
        time.sleep(1)
        assert len(home.messages) == 1


def test_notify_success_is_passed_on_to_a_dsn_server(petrel_factory, port):
    """The next hop offers DSN: petrel passes NOTIFY (and ENVID) on and sends no report of its
    own: that server now answers for the success report (RFC 3461 §5.2.2)."""
    with dns_for() as dns, Receiver(MX1, port, dsn=True) as mx1, \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port)
        send_notify(inst, {"sue@dest.test": "SUCCESS"})
        [m] = mx1.wait_for(1)
        assert "NOTIFY=SUCCESS" in m.rcpt_options, m.rcpt_options
        assert any(o.startswith("ENVID=env-") for o in m.mail_options), m.mail_options
        wait_queue_empty(inst)
        time.sleep(1.5)
        assert home.messages == [] and home.sessions == 0


def test_notify_delay_sends_one_delayed_report(petrel_factory, port):
    """The receiver keeps answering 451: after delay_warning_seconds (2) one report with
    Action: delayed lists the NOTIFY=DELAY recipient, not the NOTIFY=NEVER one; later
    attempts send no second warning; the message stays queued."""
    replies = {"slow@dest.test": "451 4.3.0 try again later",
               "mute@dest.test": "451 4.3.0 try again later"}
    with dns_for() as dns, Receiver(MX1, port, rcpt_replies=replies) as mx1, \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port, {"delay_warning_seconds": 2,
                                                 "destination_backoff_seconds": 1})
        t0 = time.monotonic()
        qid = send_notify(inst, {"slow@dest.test": "DELAY,FAILURE", "mute@dest.test": "NEVER"})
        [report] = home.wait_for(1, timeout=20)
        assert time.monotonic() - t0 >= 1.5, "not before delay_warning_seconds"
        per = recipients_of(report_blocks(parse(report.data)))
        assert set(per) == {"slow@dest.test"}
        assert per["slow@dest.test"]["Action"] == "delayed"
        assert per["slow@dest.test"]["Status"].startswith("4."), per["slow@dest.test"]
        assert "Will-Retry-Until" in per["slow@dest.test"]
        attempts = mx1.mail_count
        wait_until(lambda: mx1.mail_count >= attempts + 2, 20, what="two more attempts")
        assert len(home.messages) == 1, "one delay warning per message"
        assert [m["id"] for m in queue_list(inst)] == [qid]


def test_delay_warning_is_not_repeated_after_a_restart(petrel_factory, port):
    """NOTIFY=DELAY, the receiver keeps answering 451: one delayed report; petrel is
    restarted (the warning is in the message's state journal, docs/queue-format.md) and keeps
    retrying, and no second report comes."""
    replies = {"slow@dest.test": "451 4.3.0 try again later"}
    with dns_for() as dns, Receiver(MX1, port, rcpt_replies=replies) as mx1, \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port, {"delay_warning_seconds": 1,
                                                 "destination_backoff_seconds": 1})
        qid = send_notify(inst, {"slow@dest.test": "DELAY"})
        [report] = home.wait_for(1, timeout=20)
        assert recipients_of(report_blocks(parse(report.data)))["slow@dest.test"]["Action"] == "delayed"
        # The attempt that sent the report is recorded by the next one at the latest.
        def attempts_now():
            return [m["attempts"] for m in queue_list(inst) if m["id"] == qid][0]
        seen = attempts_now()
        wait_until(lambda: attempts_now() >= seen + 1, 20, what="the attempt with the warning recorded")
        inst.stop()
        attempts = mx1.mail_count
        inst.start()
        wait_until(lambda: mx1.mail_count >= attempts + 2, 20, what="two attempts after the restart")
        assert len(home.messages) == 1, "no second delay warning after the restart"
        assert [m["id"] for m in queue_list(inst)] == [qid]


def test_notify_never_suppresses_the_bounce(petrel_factory, port):
    """Two recipients refused with 550 in one message: NOTIFY=NEVER gets no report, the
    NOTIFY=FAILURE one does (so the report machinery ran for this very message)."""
    replies = {"gone@dest.test": "550 5.1.1 no such user",
               "gone2@dest.test": "550 5.1.1 no such user"}
    with dns_for() as dns, Receiver(MX1, port, rcpt_replies=replies), \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port)
        qid = send_notify(inst, {"gone@dest.test": "NEVER", "gone2@dest.test": "FAILURE"})
        [report] = home.wait_for(1)
        per = recipients_of(report_blocks(parse(report.data)))
        assert set(per) == {"gone2@dest.test"}
        assert per["gone2@dest.test"]["Action"] == "failed"
        wait_queue_empty(inst)
        assert f"qid={qid} to=<gone@dest.test> relay=mx1.dest.test status=bounced" in inst.output()
        time.sleep(1)
        assert len(home.messages) == 1


def test_notify_never_alone_sends_nothing(petrel_factory, port):
    replies = {"gone@dest.test": "550 5.1.1 no such user"}
    with dns_for() as dns, Receiver(MX1, port, rcpt_replies=replies) as mx1, \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port)
        qid = send_notify(inst, {"gone@dest.test": "NEVER"})
        wait_until(lambda: mx1.mail_count == 1, 10, what="the attempt")
        wait_queue_empty(inst)
        assert f"qid={qid} to=<gone@dest.test> relay=mx1.dest.test status=bounced" in inst.output()
        time.sleep(1.5)
        assert home.messages == [] and home.sessions == 0
