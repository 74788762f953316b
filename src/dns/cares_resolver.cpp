// dns/cares_resolver.cpp — c-ares on the io_context: socket watches, the timeout timer, and
// turning c-ares statuses and messages into Answer values (contract in cares_resolver.h).
#include "dns/cares_resolver.h"

#include <ares.h>
#include <arpa/inet.h>

#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "dns/message.h"

namespace petrel::dns {

namespace asio = boost::asio;

namespace {

// What c-ares handed back: its status and a copy of the response (empty when there was none).
struct Raw {
    int status = ARES_SUCCESS;
    std::vector<uint8_t> message;
};

Status status_from_ares(int status) {
    switch (status) {
        case ARES_SUCCESS: return Status::Ok;
        case ARES_ENODATA: return Status::NoData;
        case ARES_ENOTFOUND: return Status::NxDomain;
        case ARES_EBADNAME: return Status::BadName;
        case ARES_EREFUSED: return Status::Refused;
        case ARES_ETIMEOUT: return Status::Timeout;
        case ARES_ECONNREFUSED: return Status::Unreachable;
        case ARES_EFORMERR:
        case ARES_EBADRESP: return Status::Malformed;
        case ARES_EDESTRUCTION:
        case ARES_ECANCELLED: return Status::Cancelled;
        default: return Status::ServFail;  // SERVFAIL, NOTIMP, out of memory, ...
    }
}

template <class T>
std::vector<T>& records_of(DecodedMessage& m) {
    if constexpr (std::is_same_v<T, MxRecord>) return m.mx;
    else if constexpr (std::is_same_v<T, TxtRecord>) return m.txt;
    else if constexpr (std::is_same_v<T, PtrRecord>) return m.ptr;
    else return m.addresses;
}

template <class T>
Answer<T> to_answer(Raw& raw, RecordType type) {
    Answer<T> out;
    out.status = status_from_ares(raw.status);
    bool readable = out.status == Status::Ok || out.status == Status::NoData ||
                    out.status == Status::NxDomain;
    if (!readable || raw.message.empty()) {
        if (out.status == Status::Ok) out.status = Status::Malformed;
        return out;
    }
    DecodedMessage m = decode_message(raw.message.data(), raw.message.size(), type);
    if (!m.well_formed) {
        out.status = Status::Malformed;
        return out;
    }
    auto& records = records_of<T>(m);
    if (out.status == Status::Ok && !records.empty()) {
        out.records = std::move(records);
        out.ttl = std::chrono::seconds(m.min_ttl.value_or(0));
        return out;
    }
    // NOERROR with no record of the type (only a CNAME, say) is NoData too (RFC 2308 §2.2).
    if (out.status == Status::Ok) out.status = Status::NoData;
    out.ttl = std::chrono::seconds(m.negative_ttl.value_or(0));
    return out;
}

void library_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        int rc = ares_library_init(ARES_LIB_INIT_ALL);
        if (rc != ARES_SUCCESS) {
            throw std::runtime_error(std::string("c-ares: ") + ares_strerror(rc));
        }
    });
}

}  // namespace

// One socket c-ares asked to watch. Shared with the pending waits, so a wait that completes
// after c-ares closed the socket sees `closed` and touches nothing else.
struct Watch {
    Watch(asio::any_io_executor ex, ares_socket_t s) : fd(s), descriptor(ex) {}
    ares_socket_t fd;
    asio::posix::stream_descriptor descriptor;  // never owns the fd: released before c-ares closes it
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
    bool closed = false;
};

struct CaresResolver::Impl : std::enable_shared_from_this<CaresResolver::Impl> {
    struct Pending {
        asio::any_completion_handler<void(Raw)> handler;
        asio::any_io_executor executor;
    };

    asio::any_io_executor executor;
    ares_channel channel = nullptr;
    asio::steady_timer timer;
    std::unordered_map<ares_socket_t, std::shared_ptr<Watch>> watches;

    explicit Impl(asio::any_io_executor ex) : executor(ex), timer(ex) {}

    ~Impl() {
        // Completes every pending query with ARES_EDESTRUCTION (posted as Cancelled) and closes
        // the sockets, calling sock_state for each: the descriptors are released first.
        if (channel) ares_destroy(channel);
    }

    void init(const CaresOptions& o) {
        ares_options opts{};
        opts.sock_state_cb = &Impl::sock_state;
        opts.sock_state_cb_data = this;
        opts.timeout = static_cast<int>(o.timeout.count());
        opts.tries = static_cast<int>(o.attempts);
        opts.flags = ARES_FLAG_EDNS;
        opts.ednspsz = 1232;  // the DNS flag day 2020 size: no IP fragmentation
        int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
                   ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ;
        int rc = ares_init_options(&channel, &opts, mask);
        if (rc != ARES_SUCCESS) {
            channel = nullptr;
            throw std::runtime_error(std::string("c-ares init: ") + ares_strerror(rc));
        }
        if (!o.servers.empty()) {
            std::string csv;
            for (const auto& s : o.servers) {
                if (!csv.empty()) csv += ',';
                csv += s;
            }
            rc = ares_set_servers_ports_csv(channel, csv.c_str());
            if (rc != ARES_SUCCESS) {
                throw std::runtime_error("DNS servers '" + csv + "': " + ares_strerror(rc));
            }
        }
    }

    // c-ares: start (or stop, with both flags false) watching socket `s`.
    static void sock_state(void* data, ares_socket_t s, int readable, int writable) {
        auto* self = static_cast<Impl*>(data);
        auto it = self->watches.find(s);
        if (!readable && !writable) {
            if (it == self->watches.end()) return;
            it->second->closed = true;
            it->second->descriptor.release();  // cancels its waits; c-ares closes the fd
            self->watches.erase(it);
            return;
        }
        if (it == self->watches.end()) {
            auto w = std::make_shared<Watch>(self->executor, s);
            boost::system::error_code ec;
            w->descriptor.assign(s, ec);
            if (ec) return;  // c-ares times the query out
            it = self->watches.emplace(s, std::move(w)).first;
        }
        it->second->want_read = readable != 0;
        it->second->want_write = writable != 0;
        self->arm(it->second);
    }

    void arm(const std::shared_ptr<Watch>& w) {
        std::weak_ptr<Impl> weak = weak_from_this();
        if (w->want_read && !w->reading) {
            w->reading = true;
            w->descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                                     [weak, w](boost::system::error_code ec) {
                                         w->reading = false;
                                         if (w->closed || ec) return;
                                         if (auto self = weak.lock()) self->ready(w, w->fd, ARES_SOCKET_BAD);
                                     });
        }
        if (w->want_write && !w->writing) {
            w->writing = true;
            w->descriptor.async_wait(asio::posix::descriptor_base::wait_write,
                                     [weak, w](boost::system::error_code ec) {
                                         w->writing = false;
                                         if (w->closed || ec) return;
                                         if (auto self = weak.lock()) self->ready(w, ARES_SOCKET_BAD, w->fd);
                                     });
        }
    }

    void ready(const std::shared_ptr<Watch>& w, ares_socket_t r, ares_socket_t wr) {
        ares_process_fd(channel, r, wr);
        if (!w->closed) arm(w);
        rearm_timer();
    }

    // One timer for c-ares's nearest deadline (retry or give up); idle when nothing is pending.
    void rearm_timer() {
        timeval tv{};
        if (!ares_timeout(channel, nullptr, &tv)) {
            timer.cancel();
            return;
        }
        timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
        std::weak_ptr<Impl> weak = weak_from_this();
        timer.async_wait([weak](boost::system::error_code ec) {
            if (ec) return;
            if (auto self = weak.lock()) {
                ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
                self->rearm_timer();
            }
        });
    }

    // c-ares's answer callback: runs inside ares_process_fd, ares_query or ares_destroy, so the
    // awaiting coroutine is resumed later through a post, never from inside c-ares.
    static void on_answer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
        std::unique_ptr<Pending> p(static_cast<Pending*>(arg));
        Raw raw{status, {}};
        if (abuf && alen > 0) raw.message.assign(abuf, abuf + alen);
        // Queued on the resolver's executor, then run on the handler's own (asio::post).
        asio::post(p->executor, asio::append(std::move(p->handler), std::move(raw)));
    }

    void start(asio::any_completion_handler<void(Raw)> handler, const std::string& name,
               RecordType type) {
        auto* p = new Pending{std::move(handler), executor};
        ares_query(channel, name.c_str(), 1 /* class IN */, static_cast<int>(type), &Impl::on_answer, p);
        rearm_timer();
    }

    template <class T>
    asio::awaitable<Answer<T>> lookup(std::string name, RecordType type) {
        auto qname = query_name(name);
        if (!qname) co_return Answer<T>{Status::BadName, {}, {}, false};
        // `this` is used only to start the query; after resuming, nothing here touches it, so a
        // resolver destroyed meanwhile (answer: Cancelled) leaves nothing dangling.
        Raw raw = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Raw)>(
            [this, &qname, type](auto handler) { start(std::move(handler), *qname, type); },
            asio::use_awaitable);
        co_return to_answer<T>(raw, type);
    }
};

CaresResolver::CaresResolver(asio::any_io_executor executor, CaresOptions options)
    : impl_(std::make_shared<Impl>(executor)) {
    library_init();
    impl_->init(options);
}

CaresResolver::~CaresResolver() = default;

asio::awaitable<MxAnswer> CaresResolver::mx(std::string name) {
    return impl_->lookup<MxRecord>(std::move(name), RecordType::Mx);
}
asio::awaitable<AddressAnswer> CaresResolver::a(std::string name) {
    return impl_->lookup<IpAddress>(std::move(name), RecordType::A);
}
asio::awaitable<AddressAnswer> CaresResolver::aaaa(std::string name) {
    return impl_->lookup<IpAddress>(std::move(name), RecordType::Aaaa);
}
asio::awaitable<TxtAnswer> CaresResolver::txt(std::string name) {
    return impl_->lookup<TxtRecord>(std::move(name), RecordType::Txt);
}
asio::awaitable<PtrAnswer> CaresResolver::ptr(std::string name) {
    return impl_->lookup<PtrRecord>(std::move(name), RecordType::Ptr);
}

std::string CaresResolver::servers() const {
    ares_addr_port_node* list = nullptr;
    if (ares_get_servers_ports(impl_->channel, &list) != ARES_SUCCESS) return {};
    std::string out;
    for (auto* n = list; n; n = n->next) {
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(n->family, &n->addr, buf, sizeof buf);
        int port = n->udp_port ? n->udp_port : 53;
        if (!out.empty()) out += ',';
        // Built by appending: g++ 12 warns falsely on "[" + std::string(...) (-Wrestrict).
        bool v6 = n->family == AF_INET6;
        if (v6) out += '[';
        out += buf;
        if (v6) out += ']';
        out += ':';
        out += std::to_string(port);
    }
    ares_free_data(list);
    return out;
}

}  // namespace petrel::dns
