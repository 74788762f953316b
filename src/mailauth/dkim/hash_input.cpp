// mailauth/dkim/hash_input.cpp — see hash_input.h. RFC 6376 §3.7, §5.4.2.
#include "mailauth/dkim/hash_input.h"

#include <openssl/evp.h>

#include <memory>

namespace petrel::mailauth::dkim {

namespace {

std::string finish(EVP_MD_CTX* ctx) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    return std::string(reinterpret_cast<char*>(md), n);
}

}  // namespace

std::string sha256(std::string_view data) {
    MdCtx c;
    EVP_DigestInit_ex(c.ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(c.ctx, data.data(), data.size());
    return finish(c.ctx);
}

std::string body_hash(std::string_view body, Canon canon, std::optional<uint64_t> limit,
                      uint64_t* whole_length) {
    MdCtx c;
    EVP_DigestInit_ex(c.ctx, EVP_sha256(), nullptr);
    uint64_t whole = canonicalize_body(
        body, canon, [&](std::string_view s) { EVP_DigestUpdate(c.ctx, s.data(), s.size()); }, limit);
    if (whole_length) *whole_length = whole;
    return finish(c.ctx);
}

std::string header_hash_input(const std::vector<HeaderField>& fields,
                              const std::vector<std::string>& names, Canon canon,
                              std::string_view signature_field) {
    std::string out;
    std::vector<bool> used(fields.size(), false);
    for (const std::string& name : names) {
        // §5.4.2: the last instance first, then the one above it; none left: nothing (this
        // is how a name listed once more than present "signs" the absence of another).
        for (size_t i = fields.size(); i-- > 0;) {
            if (!used[i] && iequals(fields[i].name, name)) {
                used[i] = true;
                out += canonicalize_header(fields[i], canon);
                break;
            }
        }
    }
    HeaderField sig;
    size_t colon = signature_field.find(':');
    sig.raw = signature_field;
    sig.name = signature_field.substr(0, colon);
    while (!sig.name.empty() && (sig.name.back() == ' ' || sig.name.back() == '\t')) {
        sig.name.remove_suffix(1);
    }
    std::string_view value = signature_field.substr(colon == std::string_view::npos ? signature_field.size() : colon + 1);
    if (value.size() >= 2 && value.substr(value.size() - 2) == "\r\n") value.remove_suffix(2);
    sig.value = value;
    std::string canonical = canonicalize_header(sig, canon);
    // §3.7: the signature field is hashed without its final CRLF.
    if (canonical.size() >= 2 && canonical.substr(canonical.size() - 2) == "\r\n") {
        canonical.resize(canonical.size() - 2);
    }
    out += canonical;
    return out;
}

}  // namespace petrel::mailauth::dkim
