// tests/unit/mailauth/dkim_test_util.h — shared by the dkim_* tests: conformance files and a
// fake key lookup fed from them (the DNS layer is tested on its own in tests/unit/dns/).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mailauth/dkim/verifier.h"

namespace petrel::mailauth::dkim::testing {

// The conformance data, a copy of ../shared/conformance kept in tests/data/conformance (see its
// README and PROVENANCE files) so CI on a fresh machine runs it; PETREL_CONFORMANCE_DIR overrides.
inline std::filesystem::path conformance_dir() {
    const char* env = std::getenv("PETREL_CONFORMANCE_DIR");
    return std::filesystem::path(env ? env : PETREL_SOURCE_DIR "/tests/data/conformance") / "dkim";
}

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// name → lookup. A name not in the map is NXDOMAIN.
struct FakeDns {
    std::map<std::string, KeyLookup> zone;

    void add(const std::string& name, const std::string& txt) {
        auto& l = zone[to_lower(name)];
        l.status = dns::Status::Ok;
        l.records.push_back(txt);
    }
    void fail(const std::string& name, dns::Status s) { zone[to_lower(name)] = KeyLookup{s, {}}; }

    KeyFetcher fetcher() const {
        return [this](const std::string& name) {
            auto it = zone.find(to_lower(name));
            return it == zone.end() ? KeyLookup{dns::Status::NxDomain, {}} : it->second;
        };
    }
};

// chasquid's .dns format: "name: value", "\" continues a line, TEMPERROR/PERMERROR/NOTFOUND.
inline FakeDns load_chasquid_dns(const std::string& text) {
    FakeDns dns;
    std::istringstream in(text);
    std::string line, joined;
    std::vector<std::string> lines;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\\') {
            joined += line.substr(0, line.size() - 1);
            continue;
        }
        joined += line;
        lines.push_back(joined);
        joined.clear();
    }
    for (const auto& l : lines) {
        if (l.empty() || l[0] == '#') continue;
        size_t colon = l.find(':');
        if (colon == std::string::npos) continue;
        std::string name = l.substr(0, colon);
        std::string value = l.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (value == "TEMPERROR") dns.fail(name, dns::Status::ServFail);
        else if (value == "PERMERROR") dns.fail(name, dns::Status::BadName);
        else if (value == "NOTFOUND") dns.fail(name, dns::Status::NxDomain);
        else dns.add(name, value);
    }
    return dns;
}

}  // namespace petrel::mailauth::dkim::testing
