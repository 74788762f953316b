// policy/local_recipients.h — who exists in the local domains (domains.local): the users and
// aliases of [local] and, when `use_store_users` is on, the names in the credentials store.
// Answers RCPT TO for local domains (550 5.1.1 for an unknown user, RFC 5321 §3.3 / RFC 3463
// X.1.1, at RCPT time rather than as a later bounce) and maps a local part to the mailbox that
// receives it (delivery/maildir.h).
//
// Rules (docs/delivery.md, "Local delivery"):
//  - Names are compared in mail::mailbox_name form (unquoted, ASCII lower-cased); a local part
//    with no such form (a '/', "..", a leading '.', a control character) is never a recipient.
//  - All local domains share one namespace: alice@a.test and alice@b.test are one mailbox.
//  - A store user "alice" or "alice@<a local domain>" is the user alice; a store user at any
//    other domain is not a local user.
//  - "postmaster" always exists (RFC 5321 §4.5.1): a user or alias of that name if there is one,
//    otherwise an alias to the first user ([local] users in file order, then store users sorted).
//  - Catch-all: when no user is known at all, every usable local part is accepted and delivered
//    to the mailbox of its own name (what petrel did before local users existed).
// Trust: local parts come from peers (syntax-checked only); names from config and store are the
// operator's. Pure: the store is read by the caller (app/), which passes the names in.
// Thread-safety: lookups from any thread; replace_store_users swaps the table under a mutex
// (lookups keep the table they started with).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "mail/envelope.h"

namespace petrel::policy {

class LocalRecipients {
public:
    // `store_users`: the credentials store's user names, if config.local.use_store_users
    // (ignored otherwise).
    LocalRecipients(const config::Config& config, const std::vector<std::string>& store_users);

    // True when `domain` (normalized) is one of domains.local.
    bool is_local_domain(const std::string& domain) const;

    // The mailbox that receives mail for `local_part` (alias resolved), or nullopt when there
    // is none. The domain is not looked at: call it for local domains only.
    std::optional<std::string> resolve(std::string_view local_part) const;

    // resolve() for a recipient in a local domain; nullopt for any other domain too.
    std::optional<std::string> resolve(const mail::Mailbox& rcpt) const;

    // Rebuilds the table with a new list of store users (SIGHUP after `petrel user add`).
    void replace_store_users(const std::vector<std::string>& store_users);

    bool catch_all() const;
    size_t user_count() const;  // known mailboxes (postmaster counted when it is one)

    // A one-line summary for the start-up log: "catch-all" or "3 users, 2 aliases".
    std::string describe() const;

private:
    struct Table {
        std::unordered_set<std::string> users;
        std::unordered_map<std::string, std::string> aliases;  // name -> user
        bool catch_all = false;
        std::vector<std::string> dangling;  // aliases whose user does not exist
    };
    std::shared_ptr<const Table> build(const std::vector<std::string>& store_users) const;
    std::shared_ptr<const Table> table() const;

    std::unordered_set<std::string> local_domains_;
    config::Local local_;
    mutable std::mutex mutex_;
    std::shared_ptr<const Table> table_;
};

}  // namespace petrel::policy
