"""dkimpy (python3-dkim) as the independent DKIM verifier of the integration tests: the keys
are handed over through its `dnsfunc` from the records `petrel dkim keygen` / `show` printed,
so no resolver is involved. Shared by test_dkim_interop.py and test_dkim_delivery.py.
"""
import re

import dkim


def record_of(line: str) -> tuple[str, str]:
    """`s._domainkey.d. IN TXT "a" "b"` → (name, "ab")."""
    name = line.split()[0].rstrip(".")
    return name, "".join(re.findall(r'"([^"]*)"', line))


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        n = name.decode().rstrip(".") if isinstance(name, bytes) else name.rstrip(".")
        r = records.get(n)
        return r.encode() if r is not None else None
    return dnsfunc


def dkimpy_verify_all(signed: bytes, records) -> list[bool]:
    """dkimpy's verdict on each DKIM-Signature field, top to bottom."""
    d = dkim.DKIM(signed)
    n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    out = []
    for i in range(n):
        try:
            out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc_for(records))))
        except dkim.ValidationError:  # dkimpy raises on a body hash mismatch
            out.append(False)
    return out
