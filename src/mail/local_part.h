// mail/local_part.h — the local mailbox name a local part stands for, when it is delivered on
// this machine (Maildir: <maildir_root>/<name>/Maildir).
//
// Trust: input is a local part from a peer's RCPT TO (syntax-checked by mail/address.h, but its
// meaning untrusted), from the operator's config, or from the credentials store. The result is
// used as one file-name component, so anything that could leave the Maildir root is refused.
// RFC 5321 §4.1.2 (Local-part: Dot-string or Quoted-string; a quoted form that needs no quotes
// names the same mailbox, "alice" = alice), §2.4 (local parts are case-sensitive in general; a
// host may fold case for its own mailboxes, which petrel does, see mailbox_name).
// Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace petrel::mail {

// The rule (docs/delivery.md, "Local delivery"):
//   1. A Quoted-string local part is unquoted (quotes removed, backslash pairs resolved).
//   2. ASCII letters are lower-cased (Alice = alice = ALICE); bytes >= 0x80 (SMTPUTF8,
//      RFC 6531) are kept as they are: no Unicode case folding.
//   3. Refused (nullopt): an empty name, more than 64 octets (RFC 5321 §4.5.3.1.1), a '/',
//      '\', '"', NUL or any other control character (< 0x20, 0x7f), a leading '.', or "..":
//      no name can reach outside the Maildir root or be a hidden or special directory entry,
//      and every name maps to itself (mailbox_name(name) == name).
std::optional<std::string> mailbox_name(std::string_view local_part);

}  // namespace petrel::mail
