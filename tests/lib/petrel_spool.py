"""petrel_spool — petrel's on-disk spool read back by the tests, independently of petrel's code.

Format version 3 (src/queue/file_spool.h, spool_entry.h, segment_scan.h): an append-only log
  <data_dir>/spool/segments/<10-digit n>.log       records back to back: a text header, then
                                                   the message bytes
  <data_dir>/spool/segments/<10-digit n>.removed   tombstones: one "<queue id>\\n" per removed
                                                   message
A record's header is LF-terminated lines; the first is "PETREL-SPOOL 3", then "id <qid>", ...,
"message <len> <crc32 of the message, 8 hex>", and last "crc <crc32 of every header byte before
this line, 8 hex>". A segment is read like recovery reads it: record after record, stopping at
the first one that is torn or corrupt (header syntax, either checksum, or a message that runs
past the end of the file).

One segment holds many messages: a test that wants ONE message's bytes asks for a record (by
queue ID: `stored_message`, or by a marker inside the message: `records_containing`), never a
whole file. The version 2 writer here (`v2_file`, docs/queue-format.md "File format", one file
per message in spool/queue/) exists for the start-up migration test.

Trust: the bytes are untrusted test input; anything unexpected is reported, never assumed.
"""
from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

SEGMENT_RE = re.compile(r"^\d{10}\.log$")
QUEUE_ID_RE = re.compile(r"[0-9a-hjkmnp-tv-z]{14}")
MAX_HEADER = 16 * 1024 * 1024


def crc_hex(data: bytes) -> str:
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


@dataclass
class Record:
    segment: Path
    offset: int           # where the record starts in the segment
    header: bytes         # up to and including the "crc ...\n" line
    message: bytes
    qid: str

    @property
    def size(self) -> int:
        """What the quota counts for this message: header + message bytes."""
        return len(self.header) + len(self.message)

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass
class SegmentScan:
    path: Path
    file_size: int
    records: list          # [Record], in file order
    good_end: int          # end of the last good record
    stop_reason: str | None  # why the scan stopped before file_size (None: it did not)


def parse_record(data: bytes, pos: int, segment: Path) -> tuple[Record | None, str | None]:
    """The record at `pos` of `data`, or (None, why it is not a good record)."""
    end = data.find(b"\ncrc ", pos)
    if end < 0 or end - pos > MAX_HEADER:
        return None, "no crc line"
    crc_line_start = end + 1
    crc_line_end = data.find(b"\n", crc_line_start)
    if crc_line_end < 0:
        return None, "torn crc line"
    header = data[pos:crc_line_end + 1]
    lines = header[:-1].split(b"\n")
    if lines[0] != b"PETREL-SPOOL 3":
        return None, f"bad magic line {lines[0][:40]!r}"
    if not lines[1].startswith(b"id "):
        return None, "no id line"
    qid = lines[1][3:].decode("ascii", "replace")
    if not QUEUE_ID_RE.fullmatch(qid):
        return None, f"bad queue ID {qid!r}"
    msg_line = lines[-2].split(b" ")
    if len(msg_line) != 3 or msg_line[0] != b"message" or not msg_line[1].isdigit():
        return None, f"bad message line {lines[-2][:60]!r}"
    want_crc = lines[-1][4:].decode("ascii", "replace")
    if crc_hex(data[pos:crc_line_start]) != want_crc:
        return None, "header checksum mismatch"
    length = int(msg_line[1])
    body_at = crc_line_end + 1
    if body_at + length > len(data):
        return None, "message is truncated"
    message = data[body_at:body_at + length]
    if crc_hex(message) != msg_line[2].decode("ascii", "replace"):
        return None, "message checksum mismatch"
    return Record(segment, pos, header, message, qid), None


def scan_segment(path: Path) -> SegmentScan:
    data = Path(path).read_bytes()
    records, pos, reason = [], 0, None
    while pos < len(data):
        rec, reason = parse_record(data, pos, Path(path))
        if rec is None:
            break
        records.append(rec)
        pos = rec.end
    return SegmentScan(Path(path), len(data), records, pos, reason if pos < len(data) else None)


def segments_dir(spool_dir: Path) -> Path:
    return Path(spool_dir) / "segments"


def segment_files(spool_dir: Path) -> list[Path]:
    """The segment logs, oldest first (their names are zero-padded numbers)."""
    d = segments_dir(spool_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if SEGMENT_RE.match(p.name))


def tombstones(segment: Path) -> set[str]:
    """The IDs in a segment's `.removed` file (complete lines only)."""
    p = Path(segment).with_suffix(".removed")
    try:
        text = p.read_bytes()
    except FileNotFoundError:
        return set()
    return {l.decode("ascii", "replace") for l in text.split(b"\n")[:-1]}


def all_records(spool_dir: Path) -> list[Record]:
    """Every good record of every segment, removed ones included, in log order."""
    out = []
    for seg in segment_files(spool_dir):
        out.extend(scan_segment(seg).records)
    return out


def live_records(spool_dir: Path) -> dict[str, Record]:
    """queue ID -> its record, for every record without a tombstone. Fails if an ID has two
    live records (recovery would drop the later one: a test must not rely on that)."""
    out: dict[str, Record] = {}
    for seg in segment_files(spool_dir):
        dead = tombstones(seg)
        for rec in scan_segment(seg).records:
            if rec.qid in dead:
                continue
            assert rec.qid not in out, f"{rec.qid} has two live records ({out[rec.qid].segment}, " \
                                       f"{rec.segment}@{rec.offset})"
            out[rec.qid] = rec
    return out


def stored_message(spool_dir: Path, qid: str) -> bytes | None:
    """The message bytes of the live record of `qid` (None if there is none)."""
    rec = live_records(spool_dir).get(qid)
    return rec.message if rec else None


def records_containing(spool_dir: Path, needle: bytes, live_only: bool = True) -> list[Record]:
    recs = live_records(spool_dir).values() if live_only else all_records(spool_dir)
    return [r for r in recs if needle in r.message]


def remake_record(rec: Record, message: bytes | None = None, qid: str | None = None) -> bytes:
    """The bytes of a valid version 3 record like `rec`, with another message and/or queue ID:
    the "id" and "message" lines replaced, both checksums recomputed."""
    message = rec.message if message is None else message
    lines = rec.header[:-1].split(b"\n")[:-1]          # without the crc line
    if qid is not None:
        assert lines[1].startswith(b"id ")
        lines[1] = f"id {qid}".encode()
    assert lines[-1].startswith(b"message ")
    lines[-1] = f"message {len(message)} {crc_hex(message)}".encode()
    head = b"\n".join(lines) + b"\n"
    return head + f"crc {crc_hex(head)}\n".encode() + message


def replace_in_place(rec: Record, message: bytes):
    """Overwrites `rec` in its segment with the same-length `message` (checksums redone): for
    tests that need stored bytes SMTP cannot produce. Only while petrel is stopped."""
    new = remake_record(rec, message)
    assert len(new) == rec.size, "the record's length must not change"
    with open(rec.segment, "r+b") as f:
        f.seek(rec.offset)
        f.write(new)


# ---------------------------------------------------------------------------------------------
# Version 2 (docs/queue-format.md, "File format"): one file per message, spool/queue/<id>.

def _field(value: str) -> str:
    """The header field encoding: '-' is empty, bytes outside 0x21-0x7E and '%' as %XX."""
    if value == "":
        return "-"
    if value == "-":
        return "%2D"
    out = []
    for b in value.encode():
        out.append(f"%{b:02X}" if b < 0x21 or b > 0x7E or b == 0x25 else chr(b))
    return "".join(out)


def v2_header(qid: str, created_ms: int, sender: tuple[str, str] | None,
              rcpts: list[tuple[str, str]], message: bytes, listener: str = "mx") -> bytes:
    lines = ["PETREL-SPOOL 2", f"id {qid}", f"created {created_ms}",
             f"sender {_field(sender[0])} {_field(sender[1])}" if sender else "sender <>",
             "size -", "body 8BITMIME", "smtputf8 0", "ret -", "envid -", "auth -",
             "session -", f"listener {listener}", "client 127.0.0.1 40000",
             "helo client.test 1", "tls 0 - -", "auth-user -"]
    lines += [f"rcpt P - - {_field(l)} {_field(d)}" for l, d in rcpts]
    lines.append(f"message {len(message)}")
    head = ("\n".join(lines) + "\n").encode()
    return head + f"crc {crc_hex(head)}\n".encode()


def v2_file(qid: str, created_ms: int, sender, rcpts, message: bytes) -> bytes:
    return v2_header(qid, created_ms, sender, rcpts, message) + message
