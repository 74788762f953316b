// net/asio_impl.cpp — the one translation unit that compiles Boost.Asio and Asio's SSL layer.
//
// Every target linking petrel_asio is built with BOOST_ASIO_SEPARATE_COMPILATION (CMakeLists.txt),
// so Asio's non-template code is compiled here once instead of in every file that includes Asio.
// No petrel logic lives here.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
