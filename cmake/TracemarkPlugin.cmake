# A plugin library `target`, written as lib<name>.so to `output_dir`, with
# only its entry function exported. Also used for the deliberately broken
# plugins of core/tests.
function(tracemark_add_plugin_library target name output_dir)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE tracemark)
  target_precompile_headers(${target} REUSE_FROM tracemark)
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${name}
    DEFINE_SYMBOL ""
    CXX_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY ${output_dir})
endfunction()

function(tracemark_add_scheme name)
  tracemark_add_plugin_library(tracemark_scheme_${name} ${name} ${TRACEMARK_PLUGIN_OUTPUT_DIR}
    ${ARGN})
endfunction()
