"""Outbound delivery (issue 4; docs/delivery.md) end to end on loopback: a real dnsmasq serves
MX and A records pointing at 127.0.0.x, real aiosmtpd servers receive (all on one port, the
`[testing] outbound_port` seam, on different 127.0.0.x addresses), petrel delivers what it
queued. Short retry schedules come from the config. Run with /usr/bin/python3 (aiosmtpd is
Debian's python3-aiosmtpd).
"""
import subprocess
import time
import uuid

import pytest

pytest.importorskip("aiosmtpd")

from delivery_env import (HOSTS, SENDER, SENDER_MX, body, dns_for, make_cert,  # noqa: E402
                          parse, queue_list, report_blocks, send, start, wait_queue_empty)
from dns_server import DnsServer, available as dns_available  # noqa: E402
import petrel_spool  # noqa: E402
from petrel_harness import wait_until  # noqa: E402
from smtp_receiver import Receiver, free_port_on  # noqa: E402

if not dns_available():
    pytest.skip("dnsmasq not installed", allow_module_level=True)


@pytest.fixture
def port():
    return free_port_on(HOSTS)


# ---------------------------------------------------------------------------------------------

def test_mx_preference_order_and_fallback(petrel_factory, port):
    """mx1 (preference 10) refuses connections, mx2 (20) takes the message, mx3 (30) is never
    needed; the delivered message leaves the queue (record_attempt removes it)."""
    with dns_for() as dns, Receiver("127.0.0.3", port) as mx2, Receiver("127.0.0.4", port) as mx3:
        inst = start(petrel_factory, dns, port)
        qid = send(inst, ["bob@dest.test"])
        got = mx2.wait_for(1)
        assert got[0].rcpts == ["bob@dest.test"] and got[0].sender == SENDER
        assert b"hello" in got[0].data
        wait_queue_empty(inst)
        assert mx3.mail_count == 0
        log = inst.output()
        assert f"qid={qid} to=<bob@dest.test> relay=mx2.dest.test status=sent" in log
        assert "mx1.dest.test[127.0.0.2]" in log, "mx1 was tried first"


def test_a_record_fallback_without_mx(petrel_factory, port):
    with dns_for() as dns, Receiver("127.0.0.5", port) as plain:
        inst = start(petrel_factory, dns, port)
        send(inst, ["carol@plain.test"])
        assert plain.wait_for(1)[0].rcpts == ["carol@plain.test"]
        wait_queue_empty(inst)


def test_null_mx_bounces_with_5_1_10(petrel_factory, port):
    with dns_for() as dns, Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port)
        send(inst, ["nobody@nullmx.test"])
        dsn = home.wait_for(1)[0]
        assert dsn.sender in ("", "<>") and dsn.rcpts == [SENDER]
        blocks = report_blocks(parse(dsn.data))
        assert blocks[1]["Final-Recipient"].endswith("nobody@nullmx.test")
        assert blocks[1]["Action"] == "failed" and blocks[1]["Status"] == "5.1.10"
        wait_queue_empty(inst)


def test_temporary_failure_then_success_after_retry(petrel_factory, port):
    with dns_for() as dns, Receiver("127.0.0.2", port, tempfail_rcpts=1) as mx1:
        inst = start(petrel_factory, dns, port)
        qid = send(inst, ["dave@dest.test"])
        got = mx1.wait_for(1)
        assert got[0].rcpts == ["dave@dest.test"]
        assert mx1.mail_count == 2, "one deferred attempt, one that delivered"
        wait_queue_empty(inst)
        log = inst.output()
        assert f"qid={qid} to=<dave@dest.test> relay=mx1.dest.test status=deferred" in log


def test_mixed_results_and_one_dsn_for_the_failures(petrel_factory, port):
    """One transaction, three recipients: one accepted, two refused with 550 → the message is
    delivered to the first, and ONE report lists both failures with their status."""
    replies = {"bad1@dest.test": "550 5.1.1 no such user here",
               "bad2@dest.test": "552 5.2.2 mailbox full"}
    with dns_for() as dns, Receiver("127.0.0.2", port, rcpt_replies=replies) as mx1, \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port)
        send(inst, ["good@dest.test", "bad1@dest.test", "bad2@dest.test"])
        got = mx1.wait_for(1)
        assert got[0].rcpts == ["good@dest.test"]
        assert mx1.mail_count == 1, "all three recipients in one transaction"
        dsn = home.wait_for(1)[0]
        msg = parse(dsn.data)
        assert msg["From"].startswith("Mail Delivery System")
        blocks = report_blocks(msg)
        per_rcpt = {b["Final-Recipient"].split(";")[1].strip(): b for b in blocks[1:]}
        assert set(per_rcpt) == {"bad1@dest.test", "bad2@dest.test"}
        assert per_rcpt["bad1@dest.test"]["Status"] == "5.1.1"
        assert per_rcpt["bad2@dest.test"]["Status"] == "5.2.2"
        assert "550 5.1.1" in per_rcpt["bad1@dest.test"]["Diagnostic-Code"]
        assert all(b["Action"] == "failed" for b in per_rcpt.values())
        wait_queue_empty(inst)
        time.sleep(1)
        assert len(home.messages) == 1, "one report per message"


def test_expiry_bounces(petrel_factory, port):
    replies = {"slow@dest.test": "451 4.3.0 try again later"}
    with dns_for() as dns, Receiver("127.0.0.2", port, rcpt_replies=replies) as mx1, \
            Receiver(SENDER_MX, port) as home:
        inst = start(petrel_factory, dns, port, {"max_queue_lifetime_seconds": 4})
        send(inst, ["slow@dest.test"])
        dsn = home.wait_for(1, timeout=40)[0]
        blocks = report_blocks(parse(dsn.data))
        assert blocks[1]["Action"] == "failed"
        assert blocks[1]["Status"] == "4.4.7"
        assert mx1.mail_count >= 2, "retried before giving up"
        wait_queue_empty(inst)


def test_connection_dropped_in_data_is_retried_and_delivered_once(petrel_factory, port):
    with dns_for() as dns, Receiver("127.0.0.2", port, drop_in_data=1) as mx1:
        inst = start(petrel_factory, dns, port)
        send(inst, ["erin@dest.test"])
        mx1.wait_for(1)
        wait_queue_empty(inst)
        time.sleep(1.5)
        assert len(mx1.messages) == 1 and mx1.mail_count == 2


def test_tls_required_but_not_offered_is_deferred_never_sent_in_clear(petrel_factory, port):
    with dns_for() as dns, Receiver("127.0.0.7", port) as plain:
        inst = start(petrel_factory, dns, port,
                     {"destination": [{"domains": ["secure.test"], "tls": "required"}]})
        qid = send(inst, ["frank@secure.test"])
        wait_until(lambda: plain.ehlo_count >= 1, 20, what="a connection to the receiver")
        wait_until(lambda: any(m["attempts"] >= 1 for m in queue_list(inst)), 20,
                   what="a recorded attempt")
        assert plain.mail_count == 0, "nothing was sent in clear"
        [m] = queue_list(inst)
        assert m["id"] == qid and m["state"] in ("deferred", "queued")
        assert "TLS" in m["recipients"][0]["last_error"], m


def test_dots_and_line_ends_arrive_intact(petrel_factory, port):
    """Lines starting with '.' (and a line that is only '.') are stuffed on the way out, so the
    receiver gets exactly the stored message: one message, CRLF line ends, nothing cut."""
    extra = ".leading dot\r\n.\r\n..two dots\r\nQUIT\r\nlast line\r\n"
    with dns_for() as dns, Receiver("127.0.0.2", port) as mx1:
        inst = start(petrel_factory, dns, port)
        marker = uuid.uuid4().hex
        send(inst, ["gina@dest.test"], msg=body(marker, extra))
        [m] = mx1.wait_for(1)
        assert m.data.endswith(extra.encode()), m.data[-200:]
        assert b"\n" not in m.data.replace(b"\r\n", b""), "every line ends in CRLF"
        wait_queue_empty(inst)
        time.sleep(0.5)
        assert mx1.mail_count == 1


def test_smarthost_with_auth_over_starttls(petrel_factory, port, workdir):
    cert = make_cert(workdir)
    with dns_for() as dns, Receiver("127.0.0.6", port, tls_cert=cert,
                                    auth=("relayuser", "s3cret pass")) as relay:
        inst = start(petrel_factory, dns, port, {
            "mode": "smarthost",
            "smarthost": {"host": f"127.0.0.6:{port}", "tls": "starttls", "tls_verify": False,
                          "username": "relayuser", "password": "s3cret pass"}})
        send(inst, ["henry@dest.test", "iris@plain.test"])
        try:
            got = relay.wait_for(1)
        except TimeoutError:
            raise AssertionError(inst.log_tail(40))
        assert sorted(r for m in got for r in m.rcpts) == ["henry@dest.test", "iris@plain.test"]
        assert relay.auth_logins and relay.auth_logins[0] == "relayuser"
        assert all(relay.tls_on_mail), "MAIL only after STARTTLS"
        wait_queue_empty(inst)
        assert "s3cret" not in inst.output(), "the password never reaches the log"


def test_stored_lone_lf_and_dot_lines_are_sent_well_formed(petrel_factory, port):
    """A stored message with lone LFs, a lone CR and an LF.LF sequence (which a lax receiver
    could take for the end of data: SMTP smuggling) goes out with every line ending in CRLF and
    its dot lines stuffed: one message arrives, whole. SMTP cannot store such bytes (petrel
    refuses bare LF inbound), so the test queues a clean message with delivery paused, edits
    its body in its spool record (same length; the record's message and header checksums are
    recomputed, tests/lib/petrel_spool.py), then restarts petrel with delivery on."""
    with dns_for() as dns, Receiver("127.0.0.2", port) as mx1:
        inst = start(petrel_factory, dns, port, {"paused": True})
        marker = uuid.uuid4().hex
        qid = send(inst, ["kate@dest.test"], msg=body(marker, "AA\r\n.\r\nBB\r\nCC\r\nDD\r\nEND\r\n"))
        inst.stop()
        rec = petrel_spool.live_records(inst.spool_dir())[qid]
        raw = rec.message
        edited = raw.replace(b"AA\r\n.\r\nBB\r\nCC\r\nDD\r\n", b"AAA\n.\nBBB\nCCC\rDDD\r\n")
        assert len(edited) == len(raw) and edited != raw
        petrel_spool.replace_in_place(rec, edited)
        assert inst.stored_message(qid) == edited
        inst.config["delivery"]["paused"] = False
        inst.start()
        [m] = mx1.wait_for(1)
        assert m.data.endswith(b"AAA\r\n.\r\nBBB\r\nCCC\r\nDDD\r\nEND\r\n"), m.data[-120:]
        assert b"\n" not in m.data.replace(b"\r\n", b"") and b"\r" not in m.data.replace(b"\r\n", b"")
        wait_queue_empty(inst)
        time.sleep(0.5)
        assert mx1.mail_count == 1 and len(mx1.messages) == 1


def test_local_domain_goes_to_maildir(petrel_factory, port):
    with dns_for() as dns:
        inst = start(petrel_factory, dns, port)
        marker = uuid.uuid4().hex
        send(inst, ["lena@example.test"], msg=body(marker))
        root = inst.data_dir / "mail"
        found = wait_until(lambda: [p for p in root.rglob("new/*") if marker.encode() in p.read_bytes()],
                           20, what="a Maildir file")
        assert len(found) == 1
        wait_queue_empty(inst)


def test_route_sends_chosen_domain_to_a_smarthost(petrel_factory, port):
    """mode = mx, but [[delivery.route]] sends plain.test to a relay (no TLS, no AUTH here)."""
    with dns_for() as dns, Receiver("127.0.0.8", port) as relay, \
            Receiver("127.0.0.2", port) as mx1:
        inst = start(petrel_factory, dns, port, {
            "route": [{"domains": ["plain.test"], "smarthost": f"127.0.0.8:{port}", "tls": "none"}]})
        send(inst, ["mia@plain.test", "nora@dest.test"])
        assert relay.wait_for(1)[0].rcpts == ["mia@plain.test"]
        assert mx1.wait_for(1)[0].rcpts == ["nora@dest.test"]
        wait_queue_empty(inst)




def test_interop_delivers_to_postfix(petrel_factory, workdir):
    """petrel → a private Postfix instance (bench/postfix-instance.sh: smtpd on 127.0.0.1, no
    queue manager, so the accepted message stays in Postfix's queue where it can be counted),
    found through MX → A 127.0.0.1 and the outbound-port seam."""
    import shutil
    from pathlib import Path
    from petrel_harness import REPO_ROOT, free_port
    if not shutil.which("postfix") and not Path("/usr/sbin/postfix").exists():
        pytest.skip("postfix not installed")
    script = str(REPO_ROOT / "bench" / "postfix-instance.sh")
    pf_dir = workdir / "postfix"
    pf_port = free_port()
    subprocess.run([script, "start", str(pf_dir), str(pf_port)], check=True, capture_output=True,
                   timeout=60)
    try:
        with DnsServer("test", mx=[("pf.test", "mx.pf.test", 10)], a={"mx.pf.test": ["127.0.0.1"]},
                       ttl=60) as dns:
            inst = start(petrel_factory, dns, pf_port, {"tls": "opportunistic"},
                         domains={"local": ["example.test"], "relay": ["pf.test"]})
            qid = send(inst, ["olga@pf.test"])
            wait_queue_empty(inst)
            log = inst.output()
            assert f"qid={qid} to=<olga@pf.test> relay=mx.pf.test status=sent" in log, log[-2000:]
            count = subprocess.run([script, "count", str(pf_dir)], capture_output=True, text=True,
                                   check=True).stdout.strip()
            assert count == "1", count
    finally:
        subprocess.run([script, "stop", str(pf_dir)], capture_output=True, timeout=60)


def test_undeliverable_bounce_stays_visible_then_is_dropped(petrel_factory, port):
    """The sender's own domain is down (its MX refuses connections): the bounce petrel made is
    listed by `petrel queue list` as a bounce while it waits, and dropped (not bounced) at
    bounce_lifetime_seconds."""
    with dns_for() as dns:
        inst = start(petrel_factory, dns, port, {"bounce_lifetime_seconds": 5})
        qid = send(inst, ["nobody@nullmx.test"], sender="zed@down.test")
        bounce = wait_until(lambda: [m for m in queue_list(inst) if m["id"] != qid], 20,
                            what="the bounce in the queue")
        assert bounce[0]["is_bounce"] is True and bounce[0]["sender"] == ""
        assert [r["address"] for r in bounce[0]["recipients"]] == ["zed@down.test"]
        wait_queue_empty(inst, timeout=30)
        assert "bounce dropped: bounce lifetime over" in inst.output()
