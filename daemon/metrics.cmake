# tracemark_metrics: tracemarkd's Prometheus metrics and their text exposition
# (DESIGN.md §6), with its unit test. Included from daemon/CMakeLists.txt.
find_package(prometheus-cpp CONFIG REQUIRED)

add_library(tracemark_metrics STATIC ${CMAKE_CURRENT_LIST_DIR}/metrics.cc)
target_include_directories(tracemark_metrics PUBLIC ${CMAKE_SOURCE_DIR})
target_link_libraries(tracemark_metrics PUBLIC prometheus-cpp::core)
target_compile_options(tracemark_metrics PRIVATE -Wall -Wextra)

# Needs `promtool` (Debian package prometheus) on PATH; fails without it.
tracemark_add_test(metrics_test LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/tests/metrics_test.cc
  LIBS tracemark_metrics tracemark_base)
