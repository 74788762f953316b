// mailauth/dkim/key_store.cpp — see key_store.h. RFC 6376 §3.6; RFC 8463 §4; RFC 8301 §3.2.
#include "mailauth/dkim/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

namespace fs = std::filesystem;

namespace {

struct Bio {
    BIO* b;
    explicit Bio(BIO* bio) : b(bio) {}
    ~Bio() { BIO_free(b); }
    std::string str() const {
        char* data = nullptr;
        long n = BIO_get_mem_data(b, &data);
        return std::string(data, static_cast<size_t>(n));
    }
};

bool parse_canon(const std::string& s, Canon& header, Canon& body) {
    auto one = [](std::string_view v) { return v == "simple" ? Canon::Simple : Canon::Relaxed; };
    size_t slash = s.find('/');
    header = one(std::string_view(s).substr(0, slash));
    // "relaxed" alone means relaxed/simple in c= (§3.5); in our config it means both.
    body = slash == std::string::npos ? header : one(std::string_view(s).substr(slash + 1));
    return true;
}

// "<selector>.<rsa|ed25519>.pem" → selector and type.
bool parse_file_name(const std::string& name, std::string& selector, KeyType& type) {
    for (KeyType t : {KeyType::Rsa, KeyType::Ed25519}) {
        std::string suffix = std::string(".") + to_string(t) + ".pem";
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            selector = name.substr(0, name.size() - suffix.size());
            type = t;
            return is_dns_name(selector);
        }
    }
    return false;
}

}  // namespace

PKey generate_key(KeyType type, unsigned bits) {
    if (type == KeyType::Ed25519) return wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (bits < kMinRsaBits || bits > kMaxRsaBits) return nullptr;
    return wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}

std::string private_key_pem(EVP_PKEY* key) {
    Bio bio(BIO_new(BIO_s_mem()));
    if (!key || PEM_write_bio_PrivateKey(bio.b, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) return {};
    return bio.str();
}

PKey load_private_key(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read " + path + ": " + std::strerror(errno);
        return nullptr;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string pem = ss.str();
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    PKey key = wrap(PEM_read_bio_PrivateKey(bio.b, nullptr, nullptr, nullptr));
    if (!key) {
        error = "not a PEM private key: " + path;
        return nullptr;
    }
    int id = EVP_PKEY_get_base_id(key.get());
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
        error = "not an RSA or Ed25519 key: " + path;
        return nullptr;
    }
    if (id == EVP_PKEY_RSA && rsa_bits(key.get()) < kMinRsaBits) {
        error = "RSA key under 1024 bits (RFC 8301): " + path;
        return nullptr;
    }
    return key;
}

std::string public_key_record(EVP_PKEY* key) {
    if (!key) return {};
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        unsigned char raw[32];
        size_t len = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1) return {};
        return "v=DKIM1; k=ed25519; p=" + base64_encode(std::string_view(reinterpret_cast<char*>(raw), len));
    }
    unsigned char* der = nullptr;
    int n = i2d_PUBKEY(key, &der);
    if (n <= 0) return {};
    std::string p = base64_encode(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)));
    OPENSSL_free(der);
    return "v=DKIM1; k=rsa; p=" + p;
}

std::string dns_txt_line(std::string_view selector, std::string_view domain, std::string_view record) {
    std::string out = std::string(selector) + "._domainkey." + std::string(domain) + ". IN TXT";
    for (size_t i = 0; i < record.size(); i += 255) {
        out += " \"";
        out += record.substr(i, 255);  // base64 and "v=DKIM1; k=..." need no escaping
        out += '"';
    }
    return out;
}

std::string key_directory(const std::string& data_dir, std::string_view domain) {
    return (fs::path(data_dir) / "dkim" / std::string(domain)).string();
}

std::string key_path(const std::string& data_dir, std::string_view domain, std::string_view selector,
                     KeyType type) {
    return (fs::path(key_directory(data_dir, domain)) /
            (std::string(selector) + "." + to_string(type) + ".pem")).string();
}

namespace {

// As root, `path` takes the owner of its parent directory (see write_private_key).
void inherit_owner(const fs::path& path) {
    struct stat parent{};
    if (::geteuid() != 0 || ::stat(path.parent_path().c_str(), &parent) != 0) return;
    if (parent.st_uid != 0) (void)::lchown(path.c_str(), parent.st_uid, parent.st_gid);
}

}  // namespace

bool write_private_key(const std::string& path, const std::string& pem, std::string& error) {
    std::error_code ec;
    fs::path dir = fs::path(path).parent_path();
    const bool new_root = !fs::exists(dir.parent_path(), ec);
    const bool new_dir = !fs::exists(dir, ec);
    fs::create_directories(dir, ec);
    if (ec) {
        error = "cannot create " + dir.string() + ": " + ec.message();
        return false;
    }
    if (new_root) inherit_owner(dir.parent_path());
    if (new_dir) inherit_owner(dir);
    // Private keys: only the owner may read the directories and the file.
    fs::permissions(dir, fs::perms::owner_all, ec);
    fs::permissions(dir.parent_path(), fs::perms::owner_all, ec);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = errno == EEXIST ? path + " exists (remove it first to replace the key)"
                                : "cannot create " + path + ": " + std::strerror(errno);
        return false;
    }
    inherit_owner(path);
    bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) {
        ::unlink(path.c_str());
        error = "cannot write " + path;
    }
    return ok;
}

std::vector<StoredKey> list_keys(const std::string& data_dir, std::string_view domain) {
    std::vector<StoredKey> out;
    std::error_code ec;
    fs::path root = fs::path(data_dir) / "dkim";
    for (const auto& d : fs::directory_iterator(root, ec)) {
        std::string dname = d.path().filename().string();
        if (!d.is_directory(ec) || !is_dns_name(dname) || to_lower(dname) != dname) continue;
        if (!domain.empty() && dname != to_lower(domain)) continue;
        for (const auto& f : fs::directory_iterator(d.path(), ec)) {
            StoredKey k;
            if (!f.is_regular_file(ec) || !parse_file_name(f.path().filename().string(), k.selector, k.type)) continue;
            k.domain = dname;
            k.path = f.path().string();
            out.push_back(std::move(k));
        }
    }
    std::sort(out.begin(), out.end(), [](const StoredKey& a, const StoredKey& b) {
        return std::tie(a.domain, a.selector, a.type) < std::tie(b.domain, b.selector, b.type);
    });
    return out;
}

const DomainSigner* SigningKeys::find(std::string_view domain) const {
    std::string d = to_lower(domain);
    while (!d.empty()) {
        for (const auto& s : domains) {
            if (s.domain == d) return &s;
        }
        size_t dot = d.find('.');
        if (dot == std::string::npos) break;
        d.erase(0, dot + 1);
        if (d.find('.') == std::string::npos) break;  // never sign for a bare TLD
    }
    return nullptr;
}

SigningKeys load_signing_keys(const std::string& data_dir, const config::Dkim& cfg) {
    SigningKeys out;
    if (!cfg.enabled) return out;
    SignOptions base = default_sign_options();
    parse_canon(cfg.canonicalization, base.header_canon, base.body_canon);
    if (!cfg.headers.empty()) base.headers = cfg.headers;
    if (!cfg.oversign.empty()) base.oversign = cfg.oversign;
    if (cfg.expiration.count() > 0) base.expiration = cfg.expiration;
    auto domain_cfg = [&](const std::string& d) -> const config::DkimDomain* {
        for (const auto& x : cfg.domains) {
            if (x.domain == d) return &x;
        }
        return nullptr;
    };
    for (const StoredKey& k : list_keys(data_dir)) {
        const config::DkimDomain* dc = domain_cfg(k.domain);
        if (dc && !dc->enabled) continue;
        if (dc && !dc->selectors.empty() &&
            std::find(dc->selectors.begin(), dc->selectors.end(), k.selector) == dc->selectors.end()) {
            continue;
        }
        std::string error;
        PKey key = load_private_key(k.path, error);
        if (!key) {
            out.errors.push_back(error);
            continue;
        }
        KeyType actual = EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_ED25519 ? KeyType::Ed25519 : KeyType::Rsa;
        if (actual != k.type) {
            out.errors.push_back("key type does not match file name: " + k.path);
            continue;
        }
        if (out.domains.empty() || out.domains.back().domain != k.domain) {
            DomainSigner s;
            s.domain = k.domain;
            s.options = base;
            if (dc && !dc->canonicalization.empty()) {
                parse_canon(dc->canonicalization, s.options.header_canon, s.options.body_canon);
            }
            out.domains.push_back(std::move(s));
        }
        out.domains.back().keys.push_back({k.domain, k.selector, k.type, key, k.path});
    }
    for (const auto& dc : cfg.domains) {
        if (!dc.enabled) continue;
        for (const auto& sel : dc.selectors) {
            bool found = false;
            for (const auto& s : out.domains) {
                for (const auto& k : s.keys) found = found || (s.domain == dc.domain && k.selector == sel);
            }
            if (!found) out.warnings.push_back("[dkim] " + dc.domain + ": no key for selector " + sel);
        }
    }
    return out;
}

std::string from_domain(std::string_view message) {
    std::string error;
    auto msg = parse_message(message, error);
    if (!msg) return {};
    for (const auto& f : msg->fields) {
        if (!iequals(f.name, "from")) continue;
        std::string_view v = f.value;
        size_t lt = v.rfind('<');
        if (lt != std::string_view::npos) v.remove_prefix(lt + 1);
        size_t at = v.rfind('@');
        if (at == std::string_view::npos) return {};
        std::string_view d = v.substr(at + 1);
        size_t end = d.find_first_of("> \t\r\n,;()\"");
        return to_lower(d.substr(0, end));
    }
    return {};
}

SignOutcome sign_outbound(const SigningKeys& keys, std::string_view message, uint64_t now) {
    const DomainSigner* s = keys.find(from_domain(message));
    if (!s || s->keys.empty()) return {};
    return sign_message(message, s->keys, s->options, now);
}

}  // namespace petrel::mailauth::dkim
