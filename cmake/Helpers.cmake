# Small helpers so every folder declares its library and tests the same way.

set(TAILOR_WARNINGS -Wall -Wextra)

# A precompiled header of the LibTorch headers every torch-using library needs; shared (REUSE_FROM)
# so the 2-core build parses ATen once.
add_library(tailor_pch STATIC "${PROJECT_SOURCE_DIR}/cmake/pch.cpp")
target_link_libraries(tailor_pch PUBLIC tailor_torch)
target_precompile_headers(tailor_pch PRIVATE "${PROJECT_SOURCE_DIR}/cmake/torch_pch.h")

# tailor_library(NAME SOURCES ... [TORCH] [DEPS ...])
#   TORCH: the library uses LibTorch (links it and reuses the shared precompiled header).
function(tailor_library name)
  cmake_parse_arguments(ARG "TORCH" "" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_SOURCES)  # a folder whose first files have not landed yet
    message(STATUS "${name}: no sources yet, not built")
    return()
  endif()
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC "${PROJECT_SOURCE_DIR}" "${PROJECT_BINARY_DIR}/generated")
  target_compile_options(${name} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${TAILOR_WARNINGS}>)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  if(ARG_TORCH)
    target_link_libraries(${name} PUBLIC tailor_torch)
    tailor_reuse_pch(${name})
  endif()
endfunction()

function(tailor_reuse_pch target)
  if(TAILOR_PCH)
    target_precompile_headers(${target} REUSE_FROM tailor_pch)
  endif()
endfunction()

# tailor_gtest(NAME SOURCES ... DEPS ... LABELS ...): a GoogleTest executable whose tests CTest lists
# one by one. A test that calls GTEST_SKIP() is reported by CTest as skipped, with its reason in the log.
function(tailor_gtest name)
  cmake_parse_arguments(ARG "TORCH" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${TAILOR_WARNINGS})
  target_compile_definitions(${name} PRIVATE
    TAILOR_SOURCE_DIR="${PROJECT_SOURCE_DIR}" TAILOR_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  if(ARG_TORCH)
    target_link_libraries(${name} PRIVATE tailor_torch)
    tailor_reuse_pch(${name})
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()

# tailor_python_test(NAME SCRIPT [ARGS ...] LABELS ...): a parity or integration test written in Python
# against the reference implementations in .venv. Exit code 77 means skipped (the script says why).
function(tailor_python_test name script)
  cmake_parse_arguments(ARG "" "TIMEOUT" "ARGS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  add_test(NAME ${name} COMMAND "${TAILOR_PYTHON}" "${PROJECT_SOURCE_DIR}/${script}" ${ARG_ARGS}
           WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} SKIP_RETURN_CODE 77
    ENVIRONMENT "TAILOR_BIN=$<TARGET_FILE:tailor>;TAILOR_SOURCE_DIR=${PROJECT_SOURCE_DIR};TAILOR_BINARY_DIR=${PROJECT_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1;HF_HUB_OFFLINE=1;TRANSFORMERS_OFFLINE=1;TOKENIZERS_PARALLELISM=false")
endfunction()
