# tracemark_add_test(NAME LABEL <unit|e2e|slow|fuzz> [TORCH] SOURCES ... [LIBS ...])
#
# One GoogleTest executable registered with ctest under LABEL:
#   unit  seconds, no training (ctest -L unit is the edit-and-test loop)
#   e2e   real plugins, binaries and data, a few minutes in all
#   slow  long end-to-end runs (every scheme on real data, scale, evaluation)
# TORCH: the test includes LibTorch and reuses libtracemark's precompiled
# header. Every test knows where the build and the sources are.
function(tracemark_add_test name)
  cmake_parse_arguments(T "TORCH" "LABEL" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL MATCHES "^(unit|e2e|slow|fuzz)$")
    message(FATAL_ERROR "tracemark_add_test(${name}): LABEL must be unit, e2e, slow or fuzz")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} tracemark_test_files GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    TRACEMARK_BUILD_DIR="${CMAKE_BINARY_DIR}"
    TRACEMARK_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    TRACEMARK_PLUGIN_DIR="${TRACEMARK_PLUGIN_OUTPUT_DIR}")
  if(T_TORCH)
    target_precompile_headers(${name} REUSE_FROM tracemark)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL})
endfunction()
