// config/load_mailauth.cpp — the [dkim] (with [[dkim.domain]]) and [authentication] sections of
// the config file (loader.h; keys in docs/configuration.md, docs/dkim.md,
// docs/authentication-results.md and docs/arc.md). Errors name the file and line.
#include <algorithm>
#include <cctype>
#include <set>
#include <string>

#include "config/loader.h"
#include "config/values.h"

namespace petrel::config::detail {

// [dkim] and [[dkim.domain]] (docs/configuration.md, docs/dkim.md).
void Loader::dkim(const toml::table& t, Dkim& out) const {
    check_keys(t, "dkim", {"enabled", "canonicalization", "headers", "oversign",
                           "expiration_seconds", "domain"});
    auto canon = [&](const toml::table& tt) -> std::optional<std::string> {
        auto v = string_at(tt, "canonicalization");
        if (!v) return std::nullopt;
        static const std::set<std::string> ok = {"relaxed/relaxed", "relaxed/simple",
                                                 "simple/relaxed", "simple/simple",
                                                 "relaxed", "simple"};
        if (!ok.count(*v)) {
            fail(tt.get("canonicalization"),
                 "[dkim] canonicalization must be relaxed/relaxed, relaxed/simple, "
                 "simple/relaxed or simple/simple");
        }
        return *v;
    };
    auto names = [&](std::string_view key) {
        auto list = strings_at(t, key);
        for (const auto& n : list) {
            bool ok = !n.empty() && std::all_of(n.begin(), n.end(), [](char ch) {
                return ch > 32 && ch < 127 && ch != ':';
            });
            if (!ok) fail(t.get(key), "[dkim] " + std::string(key) + ": bad header field name");
        }
        return list;
    };
    if (auto v = bool_at(t, "enabled")) out.enabled = *v;
    if (auto v = canon(t)) out.canonicalization = *v;
    out.headers = names("headers");
    out.oversign = names("oversign");
    if (auto v = int_at(t, "expiration_seconds", 0, 10 * 365 * 86400)) out.expiration = std::chrono::seconds(*v);
    const toml::node* dn = t.get("domain");
    if (!dn) return;
    if (!dn->is_array_of_tables()) fail(dn, "'dkim.domain' must be an array of tables: [[dkim.domain]]");
    std::set<std::string> seen;
    for (const toml::node& e : *dn->as_array()) {
        const toml::table& dt = *e.as_table();
        check_keys(dt, "dkim.domain", {"name", "enabled", "selectors", "canonicalization"});
        DkimDomain d;
        auto name = string_at(dt, "name");
        if (!name) fail(&e, "[[dkim.domain]] needs name = \"example.com\"");
        std::string err;
        auto norm = normalize_domain(*name, err);
        if (!norm) fail(dt.get("name"), "[[dkim.domain]] name: " + err);
        if (!seen.insert(*norm).second) fail(dt.get("name"), "[[dkim.domain]] '" + *norm + "' twice");
        d.domain = *norm;
        if (auto v = bool_at(dt, "enabled")) d.enabled = *v;
        d.selectors = strings_at(dt, "selectors");
        for (const auto& sel : d.selectors) {
            bool ok = !sel.empty() && sel.size() <= 63 && std::all_of(sel.begin(), sel.end(), [](char ch) {
                return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
            });
            if (!ok) fail(dt.get("selectors"), "[[dkim.domain]] selectors: bad selector '" + sel + "'");
        }
        if (auto v = canon(dt)) d.canonicalization = *v;
        out.domains.push_back(std::move(d));
    }
}

// [authentication]: the inbound checks on the mx listener (docs/authentication-results.md).
void Loader::authentication(const toml::table& t, Authentication& out) const {
    check_keys(t, "authentication", {"enabled", "authserv_id", "dmarc_reject", "dmarc_quarantine",
                                     "arc_seal", "arc_seal_domain", "arc_seal_selector"});
    if (auto v = bool_at(t, "enabled")) out.enabled = *v;
    if (auto v = string_at(t, "authserv_id")) {
        // RFC 8601 §2.5: usually the host name. Kept to a domain-like token so the header
        // needs no quoting and a receiver's §5 check compares it byte for byte.
        bool ok = !v->empty() && v->size() <= 255 && std::all_of(v->begin(), v->end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.' || ch == '_';
        });
        if (!ok) fail(t.get("authserv_id"), "[authentication] authserv_id must be a host name (letters, digits, '-', '.', '_')");
        out.authserv_id = *v;
    }
    if (auto v = string_at(t, "dmarc_reject")) {
        if (*v == "reject") out.dmarc_reject = DmarcAction::Reject;
        else if (*v == "tag") out.dmarc_reject = DmarcAction::Tag;
        else if (*v == "off") out.dmarc_reject = DmarcAction::Off;
        else fail(t.get("dmarc_reject"), "[authentication] dmarc_reject must be reject, tag or off");
    }
    if (auto v = string_at(t, "dmarc_quarantine")) {
        if (*v == "tag") out.dmarc_quarantine_tag = true;
        else if (*v == "off") out.dmarc_quarantine_tag = false;
        else fail(t.get("dmarc_quarantine"), "[authentication] dmarc_quarantine must be tag or off");
    }
    // ARC sealing (docs/arc.md): the key is named explicitly, never guessed from the host name,
    // since its public half must be published under that name before receivers can verify.
    if (auto v = bool_at(t, "arc_seal")) out.arc_seal = *v;
    if (auto v = string_at(t, "arc_seal_domain")) {
        std::string err;
        auto norm = normalize_domain(*v, err);
        if (!norm) fail(t.get("arc_seal_domain"), "[authentication] arc_seal_domain: " + err);
        out.arc_seal_domain = *norm;
    }
    if (auto v = string_at(t, "arc_seal_selector")) {
        bool ok = !v->empty() && v->size() <= 63 && std::all_of(v->begin(), v->end(), [](char ch) {
            return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
        });
        if (!ok) fail(t.get("arc_seal_selector"), "[authentication] arc_seal_selector: bad selector '" + *v + "'");
        out.arc_seal_selector = *v;
    }
    if (out.arc_seal && (out.arc_seal_domain.empty() || out.arc_seal_selector.empty())) {
        fail(t.get("arc_seal"), "[authentication] arc_seal = true needs arc_seal_domain and arc_seal_selector");
    }
}

}  // namespace petrel::config::detail
