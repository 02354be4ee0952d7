# Every dependency comes from Debian packages (scripts/deps installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(THRIFT REQUIRED IMPORTED_TARGET thrift)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
find_program(THRIFT_COMPILER thrift REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
find_package(gflags REQUIRED)
find_package(glog REQUIRED)
find_package(RocksDB REQUIRED)
find_package(nlohmann_json 3.9 REQUIRED)
find_package(GTest REQUIRED)
if(THRIFTY_BENCHMARKS)
  find_package(benchmark REQUIRED)
endif()
# Test- and benchmark-only references.
pkg_check_modules(LIBMEMCACHED IMPORTED_TARGET libmemcached)
pkg_check_modules(HIREDIS IMPORTED_TARGET hiredis)

# thrifty_add_library(NAME SOURCES... DEPS ...): a library of our own code with our warnings.
function(thrifty_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  # Headers are included by their path in the checkout ("locator/rpc/limits.h"), which they
  # keep under include/thrifty/ when installed.
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
                                            $<INSTALL_INTERFACE:${THRIFTY_INSTALL_INCLUDEDIR}>)
  target_compile_features(${name} PUBLIC cxx_std_17)
  target_compile_options(${name} PRIVATE ${THRIFTY_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# thrifty_add_tool(NAME SOURCE DEPS...): a command-line program, in build/bin/ and installed in bin/.
function(thrifty_add_tool name source)
  add_executable(${name} ${source})
  target_compile_options(${name} PRIVATE ${THRIFTY_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARGN})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  set_property(GLOBAL APPEND PROPERTY THRIFTY_TOOLS ${name})
endfunction()

# thrifty_add_test(NAME SOURCES... DEPS ... [LABELS ...] [TIMEOUT s]): a GoogleTest binary run by ctest.
function(thrifty_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${THRIFTY_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "THRIFTY_BIN=${PROJECT_BINARY_DIR}/bin;THRIFTY_SOURCE=${PROJECT_SOURCE_DIR};THRIFTY_BUILD=${PROJECT_BINARY_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
