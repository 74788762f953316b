// policy/local_recipients.cpp — see local_recipients.h.
#include "policy/local_recipients.h"

#include "mail/local_part.h"

namespace petrel::policy {

namespace {

const std::string kPostmaster = "postmaster";

// A store user name as a local user: "alice", or "alice@d" when d is a local domain.
std::optional<std::string> store_user_mailbox(const std::string& name,
                                              const std::unordered_set<std::string>& domains) {
    const auto at = name.rfind('@');
    if (at == std::string::npos) return mail::mailbox_name(name);
    std::string domain = name.substr(at + 1);
    for (char& c : domain) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (!domains.count(domain)) return std::nullopt;
    return mail::mailbox_name(std::string_view(name).substr(0, at));
}

}  // namespace

LocalRecipients::LocalRecipients(const config::Config& config,
                                 const std::vector<std::string>& store_users)
    : local_domains_(config.domains.local.begin(), config.domains.local.end()),
      local_(config.local),
      table_(build(store_users)) {}

std::shared_ptr<const LocalRecipients::Table> LocalRecipients::build(
    const std::vector<std::string>& store_users) const {
    auto t = std::make_shared<Table>();
    std::string first;  // postmaster's default target
    for (const std::string& u : local_.users) {
        if (first.empty()) first = u;
        t->users.insert(u);
    }
    if (local_.use_store_users) {
        for (const std::string& name : store_users) {  // sorted by the store
            auto user = store_user_mailbox(name, local_domains_);
            if (!user) continue;
            if (first.empty()) first = *user;
            t->users.insert(*user);
        }
    }
    for (const auto& [alias, target] : local_.aliases) {
        // An alias never hides a user of the same name (a store user may collide with it).
        if (t->users.count(alias)) continue;
        t->aliases.emplace(alias, target);
        if (!t->users.count(target)) t->dangling.push_back(alias);
    }
    if (t->users.empty()) {
        t->catch_all = true;
        return t;
    }
    // RFC 5321 §4.5.1: postmaster must exist in every domain petrel delivers for, even when
    // its configured alias names a user who is gone.
    if (!t->users.count(kPostmaster)) {
        auto p = t->aliases.find(kPostmaster);
        if (p == t->aliases.end()) t->aliases.emplace(kPostmaster, first);
        else if (!t->users.count(p->second)) p->second = first;
    }
    return t;
}

std::shared_ptr<const LocalRecipients::Table> LocalRecipients::table() const {
    std::lock_guard lock(mutex_);
    return table_;
}

void LocalRecipients::replace_store_users(const std::vector<std::string>& store_users) {
    auto t = build(store_users);
    std::lock_guard lock(mutex_);
    table_ = std::move(t);
}

bool LocalRecipients::is_local_domain(const std::string& domain) const {
    return local_domains_.count(domain) != 0;
}

std::optional<std::string> LocalRecipients::resolve(std::string_view local_part) const {
    auto name = mail::mailbox_name(local_part);
    if (!name) return std::nullopt;
    auto t = table();
    if (t->catch_all || t->users.count(*name)) return name;
    auto a = t->aliases.find(*name);
    // An alias whose user is gone (removed from the store) resolves to nothing: 550, not a
    // Maildir for a user who does not exist.
    if (a != t->aliases.end() && t->users.count(a->second)) return a->second;
    return std::nullopt;
}

std::optional<std::string> LocalRecipients::resolve(const mail::Mailbox& rcpt) const {
    if (!is_local_domain(rcpt.domain)) return std::nullopt;
    return resolve(rcpt.local);
}

bool LocalRecipients::catch_all() const { return table()->catch_all; }

size_t LocalRecipients::user_count() const { return table()->users.size(); }

std::string LocalRecipients::describe() const {
    auto t = table();
    if (t->catch_all) return "catch-all (no local users known: every local part is accepted)";
    std::string s = std::to_string(t->users.size()) + " user(s), " +
                    std::to_string(t->aliases.size()) + " alias(es)";
    for (const std::string& a : t->dangling) s += "; alias '" + a + "' names no user (refused)";
    return s;
}

}  // namespace petrel::policy
