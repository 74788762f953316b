"""The delivery status notifications petrel builds (src/mail/dsn.cpp) parse as RFC 3464 reports
with Python's `email` package: multipart/report; report-type=delivery-status, a
message/delivery-status part whose per-recipient fields are right, and the original returned as
RET asked (headers for HDRS, the whole message for FULL).

The DSNs come from the test-only tool `dsn_sample` (tests/tools/dsn_sample.cpp), built next to
the petrel binary ($PETREL_BIN's directory) when tests are on.
"""
from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from petrel_harness import petrel_bin  # noqa: E402


def sample(mode: str) -> email.message.EmailMessage:
    tool = Path(petrel_bin()).parent / "dsn_sample"
    if not tool.exists():
        pytest.fail(f"{tool} not built (it is built with the unit tests)", pytrace=False)
    raw = subprocess.run([str(tool), mode], check=True, capture_output=True, timeout=10).stdout
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line must end in CRLF"
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(msg):
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    p = list(msg.iter_parts())
    assert [x.get_content_type() for x in p][:2] == ["text/plain", "message/delivery-status"]
    return p


def status_blocks(part):
    """The message/delivery-status part as [per-message fields, per-recipient fields...]."""
    # `email` parses message/delivery-status into a list of header blocks (RFC 3464 §2.1).
    return [dict(b.items()) for b in part.get_payload()]


def test_hdrs_two_failed_recipients_share_one_report():
    msg = sample("hdrs")
    assert msg["From"] == "Mail Delivery System <MAILER-DAEMON@mx.petrel.test>"
    assert msg["To"].addresses[0].addr_spec == "alice@sender.test"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"] == "<dsn-hdrs@mx.petrel.test>"
    assert msg["Date"].datetime.year == 2026
    text, report, original = parts(msg)
    blocks = status_blocks(report)
    assert blocks[0]["Reporting-MTA"] == "dns; mx.petrel.test"
    assert blocks[0]["Original-Envelope-Id"] == "ENV-42"
    assert len(blocks) == 3  # one per-message block, two recipients
    bob, carol = blocks[1], blocks[2]
    assert bob["Final-Recipient"] == "rfc822; bob@remote.test"
    assert bob["Original-Recipient"] == "rfc822; Bob@Remote.test"
    assert bob["Action"] == "failed"
    assert bob["Status"] == "5.1.1"
    assert bob["Remote-MTA"] == "dns; mx.remote.test"
    assert bob["Diagnostic-Code"] == "smtp; 550 5.1.1 <bob@remote.test>: user unknown"
    assert "Last-Attempt-Date" in bob
    assert carol["Final-Recipient"] == "rfc822; carol@remote.test"
    assert "Original-Recipient" not in carol
    assert carol["Status"] == "5.2.2"
    assert carol["Diagnostic-Code"] == "smtp; 552 5.2.2 mailbox full"
    # RET=HDRS: the original's header section only.
    assert original.get_content_type() == "text/rfc822-headers"
    returned = original.get_content()
    assert "Subject: quarterly report" in returned
    assert "The body of the message." not in returned
    assert "bob@remote.test" in text.get_content()


def test_full_returns_the_whole_message():
    msg = sample("full")
    _, report, original = parts(msg)
    blocks = status_blocks(report)
    assert [b["Action"] for b in blocks[1:]] == ["failed"]
    assert blocks[1]["Status"] == "5.7.1"
    assert original.get_content_type() == "message/rfc822"
    inner = original.get_payload()[0]
    assert inner["Subject"] == "quarterly report"
    assert inner["Message-ID"] == "<orig-1@sender.test>"
    assert "The body of the message." in inner.get_content()


def test_delay_warning():
    msg = sample("delay")
    assert msg["Subject"].startswith("Delayed Mail")
    _, report, original = parts(msg)
    blocks = status_blocks(report)
    assert blocks[1]["Action"] == "delayed"
    assert blocks[1]["Status"] == "4.4.1"
    assert "Will-Retry-Until" in blocks[1]
    assert original.get_content_type() == "text/rfc822-headers"
