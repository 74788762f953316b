// mailauth/spf/resolver_check.cpp — evaluate, fetch what was missing, evaluate again (see
// resolver_check.h).
#include "mailauth/spf/resolver_check.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace petrel::mailauth::spf {

namespace asio = boost::asio;

namespace {

// More rounds than the limits allow questions (1 + 10 terms × (1 + 10 names) + PTR checks).
constexpr unsigned kMaxRounds = 200;

// spf::Lookups over answers fetched so far; remembers which questions had none.
class AnswerMemo final : public Lookups {
public:
    const dns::TxtAnswer* txt(const std::string& n) override { return find(txt_, dns::RecordType::Txt, n); }
    const dns::AddressAnswer* a(const std::string& n) override { return find(a_, dns::RecordType::A, n); }
    const dns::AddressAnswer* aaaa(const std::string& n) override { return find(aaaa_, dns::RecordType::Aaaa, n); }
    const dns::MxAnswer* mx(const std::string& n) override { return find(mx_, dns::RecordType::Mx, n); }
    const dns::PtrAnswer* ptr(const std::string& n) override { return find(ptr_, dns::RecordType::Ptr, n); }

    std::vector<std::pair<dns::RecordType, std::string>> take_missing() { return std::exchange(missing_, {}); }

    // Asks `resolver` the question and stores the answer.
    asio::awaitable<void> fetch(dns::Resolver& resolver, dns::RecordType type, std::string name) {
        switch (type) {
            case dns::RecordType::Txt: return store(txt_, &dns::Resolver::txt, resolver, std::move(name));
            case dns::RecordType::A: return store(a_, &dns::Resolver::a, resolver, std::move(name));
            case dns::RecordType::Aaaa: return store(aaaa_, &dns::Resolver::aaaa, resolver, std::move(name));
            case dns::RecordType::Mx: return store(mx_, &dns::Resolver::mx, resolver, std::move(name));
            case dns::RecordType::Ptr: return store(ptr_, &dns::Resolver::ptr, resolver, std::move(name));
        }
        return store(txt_, &dns::Resolver::txt, resolver, std::move(name));  // not reached
    }

private:
    template <class A>
    static asio::awaitable<void> store(std::map<std::string, A>& answers,
                                       asio::awaitable<A> (dns::Resolver::*ask)(std::string),
                                       dns::Resolver& resolver, std::string name) {
        auto op = (resolver.*ask)(name);  // named: g++ 12 and temporaries in co_await
        answers[name] = co_await std::move(op);
    }

    template <class T>
    const T* find(const std::map<std::string, T>& m, dns::RecordType type, const std::string& name) {
        auto it = m.find(name);
        if (it != m.end()) return &it->second;
        std::pair<dns::RecordType, std::string> q{type, name};
        for (const auto& seen : missing_) {
            if (seen == q) return nullptr;
        }
        missing_.push_back(std::move(q));
        return nullptr;
    }

    // std::map: pointers handed to the evaluator stay valid while answers are added.
    std::map<std::string, dns::TxtAnswer> txt_;
    std::map<std::string, dns::AddressAnswer> a_, aaaa_;
    std::map<std::string, dns::MxAnswer> mx_;
    std::map<std::string, dns::PtrAnswer> ptr_;
    std::vector<std::pair<dns::RecordType, std::string>> missing_;
};

template <class Check>
asio::awaitable<Outcome> drive(dns::Resolver& resolver, Check check) {
    AnswerMemo memo;
    for (unsigned round = 0; round < kMaxRounds; ++round) {
        Outcome out = check(memo);
        if (!out.pending) co_return out;
        auto missing = memo.take_missing();  // a named local: g++ 12 and temporaries in coroutines
        for (auto& [type, name] : missing) {
            auto op = memo.fetch(resolver, type, name);
            co_await std::move(op);
        }
    }
    Outcome out;
    out.result = Result::TempError;
    out.reason = "SPF evaluation did not settle";
    co_return out;
}

}  // namespace

asio::awaitable<Outcome> check_mail_from(dns::Resolver& resolver, Request request, Limits limits) {
    auto op = drive(resolver, [&](Lookups& l) { return check_mail_from(l, request, limits); });
    co_return co_await std::move(op);
}

asio::awaitable<Outcome> check_helo(dns::Resolver& resolver, Request request, Limits limits) {
    auto op = drive(resolver, [&](Lookups& l) { return check_helo(l, request, limits); });
    co_return co_await std::move(op);
}

}  // namespace petrel::mailauth::spf
