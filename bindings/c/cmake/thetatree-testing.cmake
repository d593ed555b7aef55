# Test support shared by the C project (bindings/c) and the C++ project (bindings/cpp, in the C
# build or standalone against an installed package): warnings and sanitizer flags, the test
# environment, the golden-data loader and the signed-model fixture.
#
# Inputs (set before include()): TT_REPO_DIR, TT_MODELS_DIR, TT_REFERENCE_DIR (may be empty),
# TT_SANITIZE, TT_BUILD_TESTS, TT_CLI (path of the `thetatree` CLI; needed only with tests).
# Defines: tt_target_setup(target), TT_SAN_FLAGS, TT_TEST_ENV, TT_ERRORS_MODEL,
# TT_EXAMPLE_MODEL, TT_TEST_KEY, and with TT_BUILD_TESTS: the tt_golden library and the
# `signed_model` fixture (TT_SIGNED_MODEL).
include_guard(GLOBAL)

# ---- warnings and sanitizers for everything built here ---------------------------------------
set(TT_WARNINGS -Wall -Wextra -Werror)
set(TT_SAN_FLAGS "")
if(TT_SANITIZE)
  set(TT_SAN_FLAGS -fsanitize=${TT_SANITIZE} -fno-omit-frame-pointer -g)
  if(TT_SANITIZE MATCHES "undefined")
    list(APPEND TT_SAN_FLAGS -fno-sanitize-recover=undefined)
  endif()
endif()

function(tt_target_setup target)
  target_compile_options(${target} PRIVATE ${TT_WARNINGS} ${TT_SAN_FLAGS})
  target_link_options(${target} PRIVATE ${TT_SAN_FLAGS})
endfunction()

# ---- environment for every test: data locations and sanitizer runtime options ---------------
set(TT_TEST_ENV "TT_MODELS_DIR=${TT_MODELS_DIR}")
if(TT_REFERENCE_DIR)
  list(APPEND TT_TEST_ENV "TT_REFERENCE_DIR=${TT_REFERENCE_DIR}")
endif()
if(TT_SANITIZE MATCHES "address")
  list(APPEND TT_TEST_ENV "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:check_initialization_order=1")
endif()
if(TT_SANITIZE MATCHES "undefined")
  list(APPEND TT_TEST_ENV "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endif()
if(TT_SANITIZE MATCHES "thread")
  # No suppressions: the Rust library is not instrumented, so TSan sees only its intercepted
  # calls (malloc/free, mmap, pthread); with gcc 12 that produces no reports for these tests,
  # while a deliberate race in test code is reported. Add a suppressions file only for
  # Rust-internal frames if a future toolchain reports false positives there.
  list(APPEND TT_TEST_ENV "TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1")
endif()

# The model the error tests use: golden/edge_values__<it>.csv names its root split column.
set(TT_ERRORS_MODEL "mushroom_gini_d5_lgk12")
set(TT_EXAMPLE_MODEL "mushroom_gini_pruned_lgk12")
set(TT_TEST_KEY "thetatree-ctest-signing-key")

if(NOT TT_BUILD_TESTS)
  return()
endif()
enable_testing()

# ---- the golden-data loader (C; also linked by the C++ tests) --------------------------------
# The bundled fixtures keep the large CSVs gzipped: the loader reads them with zlib.
find_package(ZLIB REQUIRED)
add_library(tt_golden STATIC "${TT_REPO_DIR}/bindings/c/tests/golden.c")
target_include_directories(tt_golden PUBLIC "${TT_REPO_DIR}/bindings/c/tests")
target_compile_definitions(tt_golden PRIVATE "TT_REPO_DIR=\"${TT_REPO_DIR}\"")
target_link_libraries(tt_golden PUBLIC m ZLIB::ZLIB)
tt_target_setup(tt_golden)
target_link_options(tt_golden INTERFACE ${TT_SAN_FLAGS})

# ---- a signed copy of the error-test model, made with the CLI (signature tests) --------------
if(NOT TT_CLI)
  message(FATAL_ERROR "the tests need the thetatree CLI (TT_CLI) to sign a model fixture")
endif()
file(WRITE "${CMAKE_CURRENT_BINARY_DIR}/test-key.txt" "${TT_TEST_KEY}")
set(TT_SIGNED_MODEL "${CMAKE_CURRENT_BINARY_DIR}/signed-${TT_ERRORS_MODEL}.ttm")
add_test(NAME fixture_signed_model
  COMMAND "${TT_CLI}" sign --key-file "${CMAKE_CURRENT_BINARY_DIR}/test-key.txt"
          "${TT_MODELS_DIR}/${TT_ERRORS_MODEL}.ttm" -o "${TT_SIGNED_MODEL}")
set_tests_properties(fixture_signed_model PROPERTIES FIXTURES_SETUP signed_model)
