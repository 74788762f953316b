// delivery/pool_call.h — internal: run blocking work (disk reads, fsyncs, Maildir) on a thread
// pool and resume the awaiting coroutine on its own executor with the result.
// A work guard keeps io_context::run() from returning while the answer is outstanding.
// Callers bind the returned awaitable to a named local before co_await (g++ 12, GCC PR 99576).
#pragma once

#include <memory>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace petrel::delivery {

template <typename T, typename Fn>
boost::asio::awaitable<T> on_pool(boost::asio::thread_pool& pool, Fn fn) {
    namespace asio = boost::asio;
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
        [&pool, fn = std::move(fn)](auto handler) mutable {
            auto ex = asio::get_associated_executor(handler);
            auto work = asio::make_work_guard(ex);
            auto shared = std::make_shared<decltype(handler)>(std::move(handler));
            asio::post(pool, [fn = std::move(fn), shared, work]() mutable {
                T value = fn();
                asio::post(work.get_executor(), [shared, value = std::move(value)]() mutable {
                    (*shared)(std::move(value));
                });
                work.reset();
            });
        },
        asio::use_awaitable);
}

}  // namespace petrel::delivery
