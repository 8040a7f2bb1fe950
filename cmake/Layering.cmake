# Enforces the layer rule at configure time: the listed source folders must not include headers
# of the forbidden libraries or of higher layers. lib/ is the include root, so the compiler alone
# cannot stop `#include "transport/..."` or a system header such as <ev.h>; this scan does.
# tests/scripts/check_layering.sh runs the same rule as a ctest test, with a negative control.
function(mquictt_forbid_includes dir)
  cmake_parse_arguments(ARG "" "" "PATTERNS" ${ARGN})
  file(GLOB_RECURSE _files "${dir}/*.h" "${dir}/*.cc")
  foreach(_f IN LISTS _files)
    file(STRINGS "${_f}" _includes REGEX "^[ \t]*#[ \t]*include")
    foreach(_line IN LISTS _includes)
      foreach(_pat IN LISTS ARG_PATTERNS)
        if(_line MATCHES "${_pat}")
          message(FATAL_ERROR "layer violation: ${_f} has '${_line}' (forbidden pattern '${_pat}')")
        endif()
      endforeach()
    endforeach()
  endforeach()
endfunction()

# Shared with tests/scripts/check_layering.sh (keep the two lists identical).
set(MQUICTT_CODEC_FORBIDDEN "ev\\.h" "ev\\+\\+\\.h" "ngtcp2" "nghttp3" "gnutls" "openssl"
    "spdlog" "yaml-cpp" "sys/socket" "netinet" "\"broker/" "\"transport/" "\"server/"
    "\"config/" "\"persistence/" "\"auth/" "<chrono>" "<thread>" "<iostream>" "<fstream>")
set(MQUICTT_BROKER_FORBIDDEN "ev\\.h" "ev\\+\\+\\.h" "ngtcp2" "nghttp3" "gnutls" "openssl"
    "sys/socket" "netinet" "\"transport/" "\"server/")

# Declares the static library of one layer from every .cc in the given folders. A layer with no
# sources yet becomes an INTERFACE library, so the tree configures while it is being built up.
function(mquictt_layer name)
  cmake_parse_arguments(ARG "" "" "DIRS;DEPS" ${ARGN})
  set(_srcs "")
  foreach(_d IN LISTS ARG_DIRS)
    file(GLOB _s CONFIGURE_DEPENDS ${_d}/*.cc)
    list(APPEND _srcs ${_s})
  endforeach()
  if(_srcs)
    add_library(${name} STATIC ${_srcs})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/lib)
    target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR}/lib)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS})
  endif()
endfunction()
