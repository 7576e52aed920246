# tracemark_http: tracemarkd's REST API server (docs/api.md) on cpp-httplib,
# with its test. Included from daemon/CMakeLists.txt after metrics.cmake.
# Debian's cpp-httplib is a shared library (not header-only) found through
# pkg-config; its compile definitions (OpenSSL, zlib, brotli) must reach
# every file including <httplib.h>, hence PUBLIC.
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::HTTPLIB)
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
endif()

add_library(tracemark_http STATIC ${CMAKE_CURRENT_LIST_DIR}/http_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/guarded_server.cc)
target_include_directories(tracemark_http PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(tracemark_http PUBLIC
  tracemark_metrics tracemark_base nlohmann_json::nlohmann_json PkgConfig::HTTPLIB Threads::Threads)
target_compile_options(tracemark_http PRIVATE -Wall -Wextra)

tracemark_add_test(http_server_test LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/tests/http_server_test.cc
  LIBS tracemark_http)
