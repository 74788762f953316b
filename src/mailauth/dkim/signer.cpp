// mailauth/dkim/signer.cpp — see signer.h. RFC 6376 §5; RFC 8463 §3.
#include "mailauth/dkim/signer.h"

#include <openssl/evp.h>

#include "mailauth/dkim/hash_input.h"

namespace petrel::mailauth::dkim {

namespace {

constexpr size_t kWidth = 78;  // RFC 5322 §2.1.1: lines SHOULD be at most 78 characters

// Builds a folded header field: pieces are appended to the current line while it stays within
// kWidth, else on a new continuation line (CRLF TAB). A piece is never split.
class Folder {
public:
    explicit Folder(std::string start) : out_(std::move(start)), column_(out_.size()) {}
    void add(std::string_view piece, bool space_before) {
        size_t need = piece.size() + (space_before ? 1 : 0);
        if (column_ + need > kWidth && column_ > 1) {
            out_ += "\r\n\t";
            column_ = 1;
        } else if (space_before) {
            out_ += ' ';
            ++column_;
        }
        out_ += piece;
        column_ += piece.size();
    }
    void newline() {
        out_ += "\r\n\t";
        column_ = 1;
    }
    size_t column() const { return column_; }
    std::string& text() { return out_; }

private:
    std::string out_;
    size_t column_;
};

size_t count_fields(const ParsedMessage& msg, std::string_view name) {
    size_t n = 0;
    for (const auto& f : msg.fields) n += iequals(f.name, name) ? 1 : 0;
    return n;
}

bool contains(const std::vector<std::string>& v, std::string_view name) {
    for (const auto& x : v) {
        if (iequals(x, name)) return true;
    }
    return false;
}

// h=: each listed field once per instance present, oversigned ones once more.
std::vector<std::string> signed_names(const ParsedMessage& msg, const SignOptions& options) {
    std::vector<std::string> names;
    std::vector<std::string> all = options.headers;
    for (const auto& o : options.oversign) {
        if (!contains(all, o)) all.push_back(o);
    }
    if (!contains(all, "from")) all.insert(all.begin(), "from");
    for (const auto& h : all) {
        size_t n = count_fields(msg, h) + (contains(options.oversign, h) ? 1 : 0);
        for (size_t i = 0; i < n; ++i) names.push_back(to_lower(h));
    }
    return names;
}

}  // namespace

const std::vector<std::string>& default_signed_headers() {
    static const std::vector<std::string> v = {
        "from", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to",
        "references", "sender", "mime-version", "content-type", "content-transfer-encoding",
        "content-id", "content-description", "resent-date", "resent-from", "resent-sender",
        "resent-to", "resent-cc", "resent-message-id", "list-id", "list-help",
        "list-unsubscribe", "list-unsubscribe-post", "list-subscribe", "list-post",
        "list-owner", "list-archive"};
    return v;
}

const std::vector<std::string>& default_oversigned_headers() {
    static const std::vector<std::string> v = {
        "from", "subject", "to", "cc", "date", "message-id", "reply-to", "sender",
        "mime-version", "content-type", "content-transfer-encoding", "in-reply-to", "references"};
    return v;
}

SignOptions default_sign_options() {
    SignOptions o;
    o.headers = default_signed_headers();
    o.oversign = default_oversigned_headers();
    return o;
}

std::optional<std::string> sign_prepared(const ParsedMessage& msg, std::string_view field_without_b,
                                         const std::vector<std::string>& names, Canon header_canon,
                                         Algorithm alg, EVP_PKEY* key) {
    if (!key || alg == Algorithm::RsaSha1) return std::nullopt;
    std::string data = header_hash_input(msg.fields, names, header_canon, field_without_b);
    MdCtx c;
    std::string to_sign = data;
    const EVP_MD* md = EVP_sha256();
    if (alg == Algorithm::Ed25519Sha256) {
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) return std::nullopt;
        to_sign = sha256(data);  // RFC 8463 §3: Ed25519 signs the SHA-256 hash
        md = nullptr;
    } else if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        return std::nullopt;
    }
    if (EVP_DigestSignInit(c.ctx, nullptr, md, nullptr, key) != 1) return std::nullopt;
    size_t len = 0;
    const auto* in = reinterpret_cast<const unsigned char*>(to_sign.data());
    if (EVP_DigestSign(c.ctx, nullptr, &len, in, to_sign.size()) != 1) return std::nullopt;
    std::string sig(len, '\0');
    if (EVP_DigestSign(c.ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, to_sign.size()) != 1) {
        return std::nullopt;
    }
    sig.resize(len);
    return sig;
}

SignOutcome sign_message(std::string_view message, const std::vector<SigningKey>& keys,
                         const SignOptions& options, uint64_t now) {
    SignOutcome out;
    std::string error;
    auto msg = parse_message(message, error);
    if (!msg) {
        out.error = "cannot parse message: " + error;
        return out;
    }
    if (count_fields(*msg, "from") == 0) {
        out.error = "message has no From field";  // RFC 6376 §5.4
        return out;
    }
    if (keys.empty()) {
        out.error = "no signing key";
        return out;
    }
    std::vector<std::string> names = signed_names(*msg, options);
    std::string bh = base64_encode(body_hash(msg->body, options.body_canon, std::nullopt));
    std::string c = std::string(to_string(options.header_canon)) + "/" + to_string(options.body_canon);
    for (const SigningKey& k : keys) {
        Algorithm alg = k.type == KeyType::Ed25519 ? Algorithm::Ed25519Sha256 : Algorithm::RsaSha256;
        Folder f("DKIM-Signature:");
        f.add("v=1;", true);
        f.add(std::string("a=") + to_string(alg) + ";", true);
        f.add("c=" + c + ";", true);
        f.add("d=" + k.domain + ";", true);
        f.add("s=" + k.selector + ";", true);
        if (options.timestamp) f.add("t=" + std::to_string(now) + ";", true);
        if (options.expiration) f.add("x=" + std::to_string(now + options.expiration->count()) + ";", true);
        // h= folds between names (FWS is allowed around ":", §3.5).
        for (size_t i = 0; i < names.size(); ++i) {
            std::string piece = (i == 0 ? "h=" : "") + names[i] + (i + 1 < names.size() ? ":" : ";");
            f.add(piece, i == 0);
        }
        f.add("bh=" + bh + ";", true);
        f.newline();
        f.text() += "b=";
        auto sig = sign_prepared(*msg, f.text(), names, options.header_canon, alg, k.key.get());
        if (!sig) {
            out.error = "signing failed with key " + k.selector + "._domainkey." + k.domain;
            out.header.clear();
            return out;
        }
        std::string b = base64_encode(*sig);
        size_t col = 3;  // "\tb="
        std::string& text = f.text();
        for (size_t i = 0; i < b.size();) {
            size_t take = std::min(b.size() - i, kWidth - col);
            text.append(b, i, take);
            i += take;
            if (i < b.size()) {
                text += "\r\n\t";
                col = 1;
            }
        }
        out.header += text + "\r\n";
    }
    return out;
}

}  // namespace petrel::mailauth::dkim
