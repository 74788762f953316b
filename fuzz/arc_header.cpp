// fuzz/arc_header.cpp — libFuzzer target for ARC's parsers of hostile bytes: grouping the ARC
// header fields into sets (mailauth/arc/arc_set.h: instance tags, AAR "i=N;" prefix, ARC-Seal
// and ARC-Message-Signature tag rules, RFC 8617 §4.1, §4.2.1, §5.2 steps 1–3) and the whole
// chain validator with a fake key lookup (a fixed Ed25519 key record plus the input's first
// line as a second record).
//
// Checked beyond memory safety: a chain without error has sets 1..N, each complete, N within
// the bound, one parsed seal per set with cv=none at i=1 and pass above; the verifier says
// none exactly when there is no ARC field (or no readable header), reports as many AMS
// domains as sets, and computes oldest-pass only on a pass; key_names is empty when the
// structure is broken.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailauth/arc/arc_set.h"
#include "mailauth/arc/verifier.h"
#include "mailauth/header_parser.h"

using namespace petrel::mailauth;
using namespace petrel::mailauth::arc;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string error;
    std::string first_line(in.substr(0, in.find('\n')));
    (void)aar_instance(in);

    const int max_instances = 4;  // small, so the fuzzer reaches the bound
    auto msg = parse_message(in, error);
    if (msg) {
        for (const HeaderField& f : msg->fields) {
            (void)parse_seal(f, error);
            (void)parse_message_signature(f, error);
        }
        Chain chain = collect_chain(*msg, max_instances);
        if (chain.present && chain.error.empty()) {
            check(!chain.sets.empty() && static_cast<int>(chain.sets.size()) <= max_instances);
            check(chain.seals.size() == chain.sets.size());
            for (size_t k = 0; k < chain.sets.size(); ++k) {
                const ArcSet& s = chain.sets[k];
                check(s.instance == static_cast<int>(k) + 1 && s.aar && s.ams && s.seal);
                check(chain.seals[k].instance == s.instance);
                check(chain.seals[k].cv == (k == 0 ? Cv::None : Cv::Pass));
            }
        }
        if (!chain.present) check(chain.sets.empty() && chain.error.empty());
    }

    petrel::mailauth::dkim::KeyFetcher fetch = [&](const std::string&) {
        petrel::mailauth::dkim::KeyLookup l;
        l.records = {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", first_line};
        return l;
    };
    VerifyOptions options;
    options.now = 1528637909;
    options.max_instances = max_instances;
    ChainReport r = verify(in, fetch, options);
    if (!msg) check(r.result == ChainResult::None);
    check(static_cast<int>(r.ams_domains.size()) == r.instances);
    check(r.instances <= max_instances);
    if (r.result != ChainResult::Pass) check(r.oldest_pass == 0);
    if (r.result == ChainResult::Pass) check(r.oldest_pass == 0 || (r.oldest_pass >= 2 && r.oldest_pass <= r.instances));
    if (r.result == ChainResult::None) check(r.instances == 0);
    std::vector<std::string> names = key_names(in, options);
    if (msg) {
        Chain chain = collect_chain(*msg, max_instances);
        if (!chain.error.empty() || !chain.present) check(names.empty());
    }
    return 0;
}
