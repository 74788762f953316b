"""Durability of the queue (issue 3, "Tests"), against the real binary and a real client
(Python smtplib): a 250 to the final dot is a promise kept through kill -9, a full disk, a spool
quota and a restart over torn records (RFC 5321 §6.1; docs/queue-format.md). The spool is a
segment log (format version 3); tests/lib/petrel_spool.py reads its records back from disk.

  crash      >= 10 cycles: concurrent senders, SIGKILL at a random moment (every third cycle
             also once during the start-up recovery), restart on the same data_dir; every
             acknowledged Message-ID is queued exactly once under the ID its 250 named, nothing
             twice, extras only among unacknowledged messages (the §6.1
             duplicate), spool/tmp/ empty, a hold made before a kill still there.
  full disk  a 4 MiB tmpfs as data_dir filled with ballast: 452 4.3.1, a log line, nothing
             half-written; ballast removed: 250 again without a restart, earlier messages
             byte-identical.
  quota      [queue] max_spool_bytes: 452 4.3.1 at the quota; `queue delete` frees room; after
             a restart the count (taken from recovery) still refuses and frees the same room.
  journal    a hold whose state-journal append hits a full tmpfs: exit 3 / io_error, a log line
             with the queue ID, no hold in memory, no journal left; after space returns the
             hold works and survives a restart.
  recovery   SIGTERM, a torn tail (a record cut short, zeroed or garbage) appended to the newest
             segment and a leftover in spool/tmp/: after the restart the same messages, the held
             one still held, the torn bytes logged and cut off the segment, tmp/ gone.
  migration  a version 2 spool (files in spool/queue/, one torn) becomes records in the segment
             log at start-up: same messages, bytes and states; the torn file discarded; queue/
             removed.

Mail stays queued because of petrel_queue.keep_queued_config() (mx mode, relay domain, a dead
DNS resolver). Queue contents are read with `petrel queue list --json` / `show --raw`
(petrel_queue.QueueView), against the running daemon and, once, with the daemon stopped.
"""
import errno
import os
import random
import re
import smtplib
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

import petrel_spool
from petrel_harness import QUEUE_ID_RE, PetrelInstance, deep_merge, wait_until
from petrel_queue import (QueueView, keep_queued_config, make_message, message_id_of,
                          new_queue_id, run_queue_cli, send, send_one, spool_tmp_entries)

CRASH_CYCLES = int(os.environ.get("PETREL_CRASH_CYCLES", "10"))
CRASH_SENDERS = 4
CRASH_BUDGET_SECONDS = 90       # hard bound on the whole crash test
NO_SPACE_LOG_RE = re.compile(r"(?i)no space|disk full|enospc|quota|insufficient.*storage")


def _accept(inst, tag, n, size):
    """Sends `n` messages that must each get 250 2.0.0; returns queue ID -> message bytes."""
    sent = {}
    for i in range(n):
        msg = make_message(f"<{tag}-{i}@client.test>", size=size)
        r = send_one(inst.port("mx"), msg)
        assert (r.code, r.enhanced) == (250, "2.0.0") and r.queue_id, r
        sent[r.queue_id] = msg
    return sent


# ---------------------------------------------------------------------------------------------
# Crash test

class Ledger:
    """What the client knows: every message it tried to send, and the ones answered 250."""

    def __init__(self):
        self.lock = threading.Lock()
        self.attempted: dict[str, bytes] = {}   # Message-ID -> message bytes sent
        self.acked: dict[str, str] = {}         # Message-ID -> queue ID from the 250
        self.refused: list[str] = []            # unexpected non-250 final replies
        self.cycle_acks = 0

    def attempt(self, msgid, msg):
        with self.lock:
            self.attempted[msgid] = msg

    def result(self, msgid, r):
        with self.lock:
            if r.code == 250 and r.queue_id:
                self.acked[msgid] = r.queue_id
                self.cycle_acks += 1
            else:
                self.refused.append(f"{msgid}: {r!r}")


def _sender(port, tag, stop, ledger):
    """Sends until `stop`: one connection, many transactions; reconnects after an error."""
    seq = 0
    while not stop.is_set():
        try:
            s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=5)
        except OSError:
            stop.wait(0.01)
            continue
        try:
            while not stop.is_set():
                msgid = f"<crash.{tag}.{seq}@client.test>"
                seq += 1
                msg = make_message(msgid, size=random.choice((500, 1500, 6000)))
                ledger.attempt(msgid, msg)
                ledger.result(msgid, send(s, msg))
        except (smtplib.SMTPException, OSError):
            pass   # the kill: the reply to the message in flight is lost
        finally:
            s.close()


def _send_and_kill(inst, ledger, cycle):
    """Concurrent senders; SIGKILL in mid-stream, after a random number of 250s plus a random
    fraction of a commit. The senders are stopped and joined whatever happens."""
    stop = threading.Event()
    ledger.cycle_acks = 0
    threads = [threading.Thread(target=_sender, args=(inst.port("mx"), f"{cycle}-{i}", stop,
                                                      ledger), daemon=True)
               for i in range(CRASH_SENDERS)]
    try:
        for t in threads:
            t.start()
        target = random.randint(1, 25)
        wait_until(lambda: ledger.cycle_acks >= target or not inst.alive(), 10,
                   what=f"{target} acknowledged messages in cycle {cycle}")
        time.sleep(random.uniform(0, 0.02))
        assert inst.alive(), f"petrel died by itself:\n{inst.log_tail()}"
        inst.kill()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert not any(t.is_alive() for t in threads), "a sender thread did not stop"


def _check_queue(view, ledger, known, extras):
    """After a restart: the queue holds every acknowledged message once. `known` (queue ID ->
    Message-ID, verified in earlier cycles) and `extras` are updated in place."""
    listed = view.list()
    missing_old = set(known) - set(listed)
    assert not missing_old, f"messages verified in an earlier cycle vanished: {sorted(missing_old)}"
    new_ids = sorted(set(listed) - set(known))
    with ThreadPoolExecutor(4) as pool:     # one `queue show --raw` process per new message
        raws = dict(zip(new_ids, pool.map(view.raw, new_ids)))
    for qid in new_ids:
        raw = raws[qid]
        msgid = message_id_of(raw)
        assert msgid in ledger.attempted, f"queue entry {qid} is no message we sent: {raw[:300]!r}"
        assert raw.endswith(ledger.attempted[msgid]), f"{qid} ({msgid}) is not what was sent"
        known[qid] = msgid
    by_msgid = {}
    for qid, msgid in known.items():
        by_msgid.setdefault(msgid, []).append(qid)
    twice = {m: q for m, q in by_msgid.items() if len(q) > 1}
    assert not twice, f"messages queued more than once: {twice}"
    for msgid, qid in ledger.acked.items():
        assert msgid in by_msgid, f"{msgid} got '250 queued as {qid}' but is not in the queue"
        assert by_msgid[msgid] == [qid], \
            f"{msgid} was acknowledged as {qid}, queued as {by_msgid[msgid]}"
    extras.update(m for m in by_msgid if m not in ledger.acked)
    for qid, m in listed.items():
        assert m.get("state", "queued") != "done", f"{qid} is done though nothing can be delivered"
    return listed


def test_kill9_loses_no_acknowledged_message(petrel_factory, capsys):
    inst = petrel_factory(keep_queued_config(), user=None)
    view = QueueView(inst)
    ledger, known, extras, held = Ledger(), {}, set(), set()
    started = time.monotonic()
    cycles = startup_kills = 0
    while cycles < CRASH_CYCLES:
        assert time.monotonic() - started < CRASH_BUDGET_SECONDS, \
            f"crash test over its {CRASH_BUDGET_SECONDS}s budget after {cycles} cycles"
        _send_and_kill(inst, ledger, f"{cycles}")
        cycles += 1
        if cycles % 3 == 0:   # also a crash during start-up recovery
            inst.spawn()
            time.sleep(random.uniform(0, 0.05))
            inst.kill()
            startup_kills += 1
        inst.start()
        assert spool_tmp_entries(inst) == [], "spool/tmp/ not emptied at start-up"
        listed = _check_queue(view, ledger, known, extras)
        # A hold acknowledged by the CLI is a state change that must survive the next kill too.
        for qid in held:
            assert listed[qid]["state"] == "held", f"hold of {qid} lost in a crash: {listed[qid]}"
        qid = random.choice(sorted(set(listed) - held))
        view.control("hold", qid)
        held.add(qid)
    assert not ledger.refused, f"unexpected refusals: {ledger.refused[:5]}"
    assert len(ledger.acked) >= CRASH_CYCLES
    inst.stop(check=True)   # the CLI reads the spool itself when no daemon runs: same queue
    assert set(view.list()) == set(known)
    with capsys.disabled():
        print(f"\ncrash test: {cycles} kill -9 cycles (+{startup_kills} during start-up), "
              f"{len(ledger.attempted)} sent, "
              f"{len(ledger.acked)} acknowledged, {len(extras)} extra (stored, 250 not seen), "
              f"{time.monotonic() - started:.1f}s")


# ---------------------------------------------------------------------------------------------
# Full disk

@contextmanager
def tmpfs_at(path, size):
    path.mkdir(parents=True, exist_ok=True)
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "petrel-test",
                         str(path)], capture_output=True, text=True, timeout=30)
    if cp.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root and mount permission): "
                    f"{cp.stderr.strip() or cp.returncode}")
    try:
        yield path
    finally:
        for attempt in range(50):
            if subprocess.run(["umount", str(path)], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
            raise AssertionError(f"tmpfs at {path} was busy; lazily unmounted")


def _assert_logged_no_space(inst, log_mark):
    """A clear log line about the refusal, naming the message's queue ID (issue 3)."""
    lines = wait_until(lambda: [l for l in inst.output()[log_mark:].splitlines()
                                if NO_SPACE_LOG_RE.search(l)], 5,
                       what="a log line about the full spool")
    assert any(QUEUE_ID_RE.search(l) for l in lines), f"no queue ID in: {lines}"


def fill(path, chunk=64 * 1024):
    """Writes zeros to `path` until the filesystem is full (ENOSPC)."""
    block = bytes(chunk)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) <= 512:
                    break
                block = block[: len(block) // 2]
        os.fsync(f.fileno())


def test_full_disk_gives_452_and_recovers_without_restart(workdir):
    inst = PetrelInstance(workdir / "disk", overrides=keep_queued_config(), user=None)
    with tmpfs_at(inst.data_dir, "4m"):
        try:
            inst.start()      # store, TLS key and spool are created before the disk fills
            view = QueueView(inst)
            before = {}
            for qid, msg in _accept(inst, "disk-before", 3, 3000).items():
                before[qid] = view.raw(qid)
                assert before[qid].endswith(msg)

            fill(inst.data_dir / "ballast")
            st = os.statvfs(inst.data_dir)
            assert st.f_bavail * st.f_frsize < 16 * 1024, "the tmpfs is not full"
            log_mark = len(inst.output())
            ballast = inst.data_dir / "ballast"
            # Completely full, then 8 KiB free for a 20 KB message (a write that fails midway).
            for i, free in enumerate((0, 8192)):
                if free:
                    os.truncate(ballast, ballast.stat().st_size - free)
                r = send_one(inst.port("mx"), make_message(f"<disk-full-{i}@client.test>", 20000))
                assert (r.code, r.enhanced) == (452, "4.3.1"), f"disk full ({free} free): {r!r}"
                assert r.stage in ("mail", "data"), r
            _assert_logged_no_space(inst, log_mark)
            assert spool_tmp_entries(inst) == [], "half-written file left in spool/tmp/"
            # Nothing half visible: no byte of a refused message in any file, the segment log
            # holds exactly the earlier records and ends where the last of them ends (a failed
            # append is cut back off the segment).
            assert not inst.files_containing(b"disk-full-"), "a refused message is on disk"
            scans = [petrel_spool.scan_segment(p) for p in petrel_spool.segment_files(inst.spool_dir())]
            assert sorted(r.qid for sc in scans for r in sc.records) == sorted(before), \
                "the segments' records changed by refused messages"
            for sc in scans:
                assert sc.stop_reason is None and sc.good_end == sc.file_size, \
                    f"{sc.path}: {sc.file_size - sc.good_end} byte(s) after the last good record " \
                    f"({sc.stop_reason})"
            assert set(view.list()) == set(before)

            pid = inst.pid
            ballast.unlink()
            msg = make_message("<disk-after@client.test>", size=20000)
            r = send_one(inst.port("mx"), msg)
            assert (r.code, r.enhanced) == (250, "2.0.0") and r.queue_id, f"after freeing: {r!r}"
            assert inst.alive() and inst.pid == pid, "petrel restarted"
            assert view.raw(r.queue_id).endswith(msg)
            for qid, raw in before.items():
                assert view.raw(qid) == raw, f"{qid} changed while the disk was full"
            assert set(view.list()) == set(before) | {r.queue_id}
            inst.stop(check=True)
        finally:
            inst.stop(check=False)   # before the umount: petrel holds files on the tmpfs


# ---------------------------------------------------------------------------------------------
# Quota

def _spool_bytes(inst):
    """What the quota counts: header + message bytes of every live record in the segments."""
    return sum(r.size for r in petrel_spool.live_records(inst.spool_dir()).values())


def test_spool_quota_gives_452_and_delete_frees_room(petrel_factory):
    quota = 48 * 1024
    inst = petrel_factory(deep_merge(keep_queued_config(), {"queue": {"max_spool_bytes": quota}}),
                          user=None)
    view = QueueView(inst)
    accepted, refusal = [], None
    for i in range(40):   # 6 KiB each: the quota is reached after about 8
        r = send_one(inst.port("mx"), make_message(f"<quota-{i}@client.test>", size=6000))
        if r.code != 250:
            refusal = r
            break
        assert r.enhanced == "2.0.0" and r.queue_id, r
        accepted.append(r.queue_id)
    assert refusal is not None, f"{len(accepted)} messages accepted past a {quota}-byte quota"
    assert (refusal.code, refusal.enhanced) == (452, "4.3.1"), f"at the quota: {refusal!r}"
    assert len(accepted) >= 4, f"quota refused too early: after {len(accepted)} messages"
    r = send_one(inst.port("mx"), make_message("<quota-again@client.test>", size=6000))
    assert (r.code, r.enhanced) == (452, "4.3.1"), f"still at the quota: {r!r}"
    assert _spool_bytes(inst) <= quota
    assert spool_tmp_entries(inst) == []
    assert set(view.list()) == set(accepted)
    _assert_logged_no_space(inst, 0)

    assert set(petrel_spool.live_records(inst.spool_dir())) == set(accepted)
    full = _spool_bytes(inst)
    assert full + 6000 > quota, f"refused with {quota - full} bytes of the quota left"

    for qid in accepted[:2]:
        view.control("delete", qid)
    assert set(view.list()) == set(accepted[2:])
    assert set(petrel_spool.live_records(inst.spool_dir())) == set(accepted[2:])
    r = send_one(inst.port("mx"), make_message("<quota-after-delete@client.test>", size=6000))
    assert (r.code, r.enhanced) == (250, "2.0.0") and r.queue_id, f"after delete: {r!r}"


def test_spool_quota_is_counted_again_after_restart(petrel_factory):
    """The quota's byte count comes from recovery (the spool no longer stats spool/queue/ at
    start-up, file_spool.h): after a restart a spool at its quota still refuses, and deleting
    frees exactly the room it did before (neither forgotten nor counted twice)."""
    quota = 48 * 1024
    inst = petrel_factory(deep_merge(keep_queued_config(), {"queue": {"max_spool_bytes": quota}}),
                          user=None)
    view = QueueView(inst)
    accepted = []
    for i in range(40):
        r = send_one(inst.port("mx"), make_message(f"<quota-rs-{i}@client.test>", size=6000))
        if r.code != 250:
            assert (r.code, r.enhanced) == (452, "4.3.1"), r
            break
        accepted.append(r.queue_id)
    assert 4 <= len(accepted) < 40, f"{len(accepted)} accepted under a {quota}-byte quota"
    full = _spool_bytes(inst)
    inst.stop(check=True)

    inst.start()
    assert set(view.list()) == set(accepted)
    r = send_one(inst.port("mx"), make_message("<quota-rs-after@client.test>", size=6000))
    assert (r.code, r.enhanced) == (452, "4.3.1"), f"over the quota after a restart: {r!r}"
    assert _spool_bytes(inst) == full <= quota
    for qid in accepted[:2]:
        view.control("delete", qid)
    r = send_one(inst.port("mx"), make_message("<quota-rs-freed@client.test>", size=6000))
    assert (r.code, r.enhanced) == (250, "2.0.0") and r.queue_id, f"after delete: {r!r}"


# ---------------------------------------------------------------------------------------------
# State journal on a full disk

JOURNAL_FAIL_RE = re.compile(r"qid=(\w+) hold failed: cannot append to \S+: No space left on device")


def test_journal_append_on_full_disk_fails_cleanly_and_recovers(workdir):
    """A hold whose state-journal append hits ENOSPC: the operator gets an I/O error and the
    daemon a log line naming the message; memory does not claim the hold (the journal is written
    before the index changes, queue_controls.cpp); no partial line or empty journal is left; once
    space returns the hold works and survives a restart."""
    inst = PetrelInstance(workdir / "jfull", overrides=keep_queued_config(), user=None)
    with tmpfs_at(inst.data_dir, "4m"):
        try:
            inst.start()
            view = QueueView(inst)
            ids = sorted(_accept(inst, "jfull", 3, 2000))
            first, victim, other = ids
            view.control("hold", first)   # a journal that already exists
            journal = inst.spool_dir() / "state" / victim
            assert not journal.exists()

            ballast = inst.data_dir / "ballast"
            fill(ballast)
            log_mark = len(inst.output())
            pid = inst.pid
            # tmpfs allocates whole pages: a first append to a new journal needs one.
            cp = run_queue_cli(inst, "hold", victim, check=False)
            # Exit 3 and "could not be updated": io_error (docs/queue-cli.md, "Exit codes").
            assert cp.returncode == 3, f"hold on a full disk: exit {cp.returncode}, {cp!r}"
            assert b"could not be updated" in cp.stderr, cp.stderr
            lines = wait_until(lambda: JOURNAL_FAIL_RE.findall(inst.output()[log_mark:]), 5,
                               what="a log line about the failed journal append")
            assert lines == [victim], lines
            assert inst.alive() and inst.pid == pid, "petrel died on a failed journal append"
            listed = view.list()
            assert listed[victim]["state"] != "held", "memory claims a hold the disk does not hold"
            assert listed[first]["state"] == "held"
            assert not journal.exists(), "a journal without its record was left behind"

            ballast.unlink()
            view.control("hold", victim)
            assert view.list()[victim]["state"] == "held"
            inst.stop(check=True)
            restart_mark = len(inst.output())
            inst.start()
            listed = view.list()
            assert set(listed) == set(ids)
            assert (listed[first]["state"], listed[victim]["state"]) == ("held", "held"), listed
            assert listed[other]["state"] in ("queued", "deferred"), listed[other]
            recovered = wait_until(lambda: re.findall(r"queue recovered: .*",
                                                      inst.output()[restart_mark:]), 5,
                                   what="the recovery summary")
            assert " 0 damaged journal(s)" in recovered[0], recovered
            inst.stop(check=True)
        finally:
            inst.stop(check=False)   # before the umount: petrel holds files on the tmpfs


# ---------------------------------------------------------------------------------------------
# Recovery

TORN_LOG_RE = re.compile(r"queue: (\S+): (\d+) byte\(s\) at offset (\d+) discarded at recovery "
                         r"\(([^)]*)\)")


def _torn_tail(kind, template, torn_id):
    """Bytes a crash can leave behind the last acknowledged record: an unacknowledged record
    (a real one, under a new queue ID) cut inside its message, the same with its end zeroed
    (blocks allocated but never written: the length fits, the message checksum does not), or
    bytes that are no record at all."""
    rec = petrel_spool.remake_record(template, qid=torn_id)
    if kind == "cut":
        return rec[: len(template.header) + len(template.message) // 2]
    if kind == "zeros":
        return rec[: len(rec) - 700] + bytes(700)
    return bytes(random.getrandbits(8) for _ in range(300)) + rec[:200]


@pytest.mark.parametrize("kind", ["cut", "zeros", "garbage"])
def test_restart_recovers_queue_and_discards_torn_tail(petrel_factory, kind):
    """SIGTERM; bytes of a never-acknowledged append planted at the end of the newest segment
    and a leftover in spool/tmp/ (version 1); restart: the queue is exactly the acknowledged
    messages (the held one still held, each byte-identical), the torn bytes are logged (path,
    count, offset) and cut off the segment, tmp/ is gone, and a message accepted afterwards is
    appended behind the good records (it survives the next restart)."""
    inst = petrel_factory(keep_queued_config(), user=None)
    view = QueueView(inst)
    sent = _accept(inst, "recover", 5, 2000)
    ids = sorted(sent)
    held = ids[2]
    view.control("hold", held)
    assert view.list()[held]["state"] == "held"
    inst.stop(check=True)

    segments = petrel_spool.segment_files(inst.spool_dir())
    assert segments, "no segment after five acknowledged messages"
    newest = segments[-1]
    scan = petrel_spool.scan_segment(newest)
    assert scan.stop_reason is None and scan.records, f"{newest} is not clean before the test"
    good_end = scan.file_size
    torn_id = new_queue_id()
    tail = _torn_tail(kind, scan.records[-1], torn_id)
    with open(newest, "ab") as f:
        f.write(tail)
    tmp_dir = inst.spool_dir() / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    (tmp_dir / new_queue_id(offset_us=1)).write_bytes(tail[:100])
    log_mark = len(inst.output())

    inst.start()
    listed = view.list()
    assert set(listed) == set(ids), f"after restart: {sorted(listed)} != {ids}"
    assert listed[held]["state"] == "held", f"hold lost in the restart: {listed[held]}"
    for qid in ids:
        if qid != held:
            assert listed[qid]["state"] in ("queued", "deferred"), listed[qid]
        assert view.raw(qid).endswith(sent[qid])
    assert run_queue_cli(inst, "show", torn_id, check=False).returncode == 1, \
        "the torn record is visible"
    logged = [m for m in TORN_LOG_RE.findall(inst.output()[log_mark:])]
    assert [(p, int(n), int(o)) for p, n, o, _ in logged] == [(str(newest), len(tail), good_end)], \
        f"the discarded bytes are not logged as {len(tail)} at {good_end} of {newest}: {logged}"
    assert newest.stat().st_size == good_end, "the torn tail was not cut off the segment"
    assert set(petrel_spool.live_records(inst.spool_dir())) == set(ids)
    assert spool_tmp_entries(inst) == [] and not tmp_dir.exists(), "spool/tmp/ left at start-up"

    after = _accept(inst, "recover-after", 1, 2000)
    inst.stop(check=True)
    inst.start()
    listed = view.list()
    assert set(listed) == set(ids) | set(after), "a message appended after the cut was lost"
    for qid, msg in after.items():
        assert view.raw(qid).endswith(msg)


# ---------------------------------------------------------------------------------------------
# Migration from version 2 (one file per message in spool/queue/)

def _journal_line(body: str) -> bytes:
    """A state-journal record (docs/queue-format.md, "State journal")."""
    return f"{petrel_spool.crc_hex(body.encode())} {body}\n".encode()


def test_version2_spool_is_migrated_into_the_log(petrel_factory):
    """A spool left by a version 2 petrel: a valid message file (with a state journal that holds
    it), another valid one, and a torn one in spool/queue/. After the start: both valid messages
    are in the queue with their bytes (`show --raw`), their states and their envelope, as
    records in the segment log; the torn one is discarded and logged by ID; spool/queue/ is
    gone; and all of it stays so across another restart."""
    inst = petrel_factory(keep_queued_config(), user=None)
    view = QueueView(inst)
    sent = _accept(inst, "v3", 2, 1500)
    inst.stop(check=True)

    queue_dir = inst.spool_dir() / "queue"
    queue_dir.mkdir(mode=0o750)
    now = int(time.time() * 1000)
    v2, rcpts = {}, {}
    for i in range(3):
        qid = new_queue_id(offset_us=-10_000_000 + i)
        msg = b"Received: from client.test by mx.example.test; legacy\r\n" + \
            make_message(f"<v2-{i}@client.test>", size=1200 + 500 * i)
        v2[qid] = msg
        rcpts[qid] = [("r1", "partner.test"), (f"x{i}", "partner.test")]
        data = petrel_spool.v2_file(qid, now - 60_000, ("old", "client.test"), rcpts[qid], msg)
        (queue_dir / qid).write_bytes(data if i < 2 else data[: len(data) - 300])
    good, plain, torn = v2
    held_at = now - 30_000
    (inst.spool_dir() / "state" / good).write_bytes(_journal_line(f"hold {held_at} 1"))
    log_mark = len(inst.output())

    inst.start()
    listed = view.list()
    assert set(listed) == set(sent) | {good, plain}, sorted(listed)
    assert listed[good]["state"] == "held", f"the v2 journal's hold was lost: {listed[good]}"
    assert listed[plain]["state"] in ("queued", "deferred"), listed[plain]
    for qid in (good, plain):
        assert view.raw(qid) == v2[qid], f"{qid}: --raw is not the version 2 message"
        assert listed[qid]["sender"] == "old@client.test", listed[qid]
        assert listed[qid]["created"] == time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime((now - 60_000) // 1000)), "creation time not kept"
        assert [r["address"] for r in listed[qid]["recipients"]] == \
            [f"{l}@{d}" for l, d in rcpts[qid]], listed[qid]
        assert inst.stored_message(qid) == v2[qid], f"{qid} is not a record in the segment log"
    for qid, msg in sent.items():
        assert view.raw(qid).endswith(msg)
    assert run_queue_cli(inst, "show", torn, check=False).returncode == 1
    assert not queue_dir.exists(), "spool/queue/ is still there after the migration"
    out = inst.output()[log_mark:]
    assert re.search(rf"qid={torn} discarded at migration", out), out[-2000:]
    assert "2 message(s) migrated" in out, out[-2000:]

    inst.stop(check=True)
    inst.start()
    listed = view.list()
    assert set(listed) == set(sent) | {good, plain}
    assert listed[good]["state"] == "held"
    assert view.raw(plain) == v2[plain]


# ---------------------------------------------------------------------------------------------
# A failure report (DSN) on a full disk

def test_failure_report_is_not_lost_when_the_disk_is_full(workdir):
    """RFC 5321 §6.1: a failure must be reported. A recipient refused with 550 while the disk is
    full (its DSN cannot be queued) is not recorded as bounced: it stays pending, and once space
    returns a later attempt fails again and the report reaches the sender (reports.cpp)."""
    pytest.importorskip("aiosmtpd")
    from delivery_env import (HOSTS, SENDER_MX, body, dns_for, parse, report_blocks, send,
                              wait_queue_empty)
    from dns_server import available as dns_available
    from smtp_receiver import Receiver, free_port_on
    if not dns_available():
        pytest.skip("dnsmasq not installed")
    port = free_port_on(HOSTS)
    with dns_for() as dns, Receiver(SENDER_MX, port) as home:
        overrides = {"domains": {"local": ["example.test"], "relay": ["dest.test", "sender.test"]},
                     "delivery": {"mode": "mx", "paused": False, "first_retry_seconds": 1,
                                  "max_retry_seconds": 2, "destination_backoff_seconds": 1,
                                  "idle_timeout_seconds": 1, "delay_warning_seconds": 0},
                     "dns": {"servers": [dns.address], "timeout_ms": 500, "attempts": 1},
                     "testing": {"outbound_port": port}}
        inst = PetrelInstance(workdir / "dsnfull", overrides=overrides, user=None)
        with tmpfs_at(inst.data_dir, "4m"):
            try:
                inst.start()
                # Nothing listens on the MX yet: the first attempts are deferred. The message is
                # large enough that its report (RET=FULL: it returns the message whole) needs new
                # pages on the full tmpfs, not just the room left in the segment's last one.
                big = body("dsnfull", extra=("x" * 70 + "\r\n") * 300)
                qid = send(inst, ["gone@dest.test"], msg=big, mail_options=("RET=FULL",))
                # And one that will be delivered while the disk is full: its removal (a
                # tombstone, in room reserved when the segment was made) must still work.
                qid_ok = send(inst, ["ok@dest.test"])
                # Their deferrals recorded (the log line comes before the record): a record that
                # failed on the full disk would hold the message back a minute (Impl::back_off).
                state = inst.spool_dir() / "state"
                wait_until(lambda: (state / qid).exists() and (state / qid_ok).exists(), 10,
                           what="first (deferred) attempts recorded")
                ballast = inst.data_dir / "ballast"
                fill(ballast)
                mark = len(inst.output())
                with Receiver("127.0.0.2", port, rcpt_replies={"gone@dest.test": "550 5.1.1 no such user"}) as mx1:
                    wait_until(lambda: "failure report not queued: kept for a later attempt"
                               in inst.output()[mark:], 20, what="a 550 whose report cannot be queued")
                    wait_until(lambda: f"qid={qid_ok} finished" in inst.output()[mark:], 20,
                               what="the deliverable message delivered and removed on the full disk")
                    assert "cannot remove" not in inst.output()[mark:], "a removal failed on the full disk"
                    assert [m.rcpts for m in mx1.messages] == [["ok@dest.test"]]
                    assert f"qid={qid} finished" not in inst.output(), "recorded as bounced without its report"
                    listed = QueueView(inst).list()
                    assert qid in listed, "the message left the queue without its failure report"
                    assert qid_ok not in listed
                    assert home.messages == []

                    ballast.unlink()
                    wait_until(lambda: len(home.messages) == 1, 30, what="the failure report, once space returned")
                    wait_queue_empty(inst)
                report = home.messages[0]
                assert report.sender in ("", "<>"), report.sender  # the null reverse-path
                blocks = report_blocks(parse(report.data))
                [rcpt] = blocks[1:]
                assert rcpt["Action"] == "failed"
                assert rcpt["Status"] == "5.1.1"
                assert "gone@dest.test" in rcpt["Final-Recipient"]
                inst.stop(check=True)
            finally:
                inst.stop(check=False)   # before the umount: petrel holds files on the tmpfs
