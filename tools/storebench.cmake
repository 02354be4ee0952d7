# storebench: one load generator for thrifty, Redis and memcached (helpers in tools/bench/).
add_library(thrifty_bench_load STATIC
  ${CMAKE_CURRENT_LIST_DIR}/bench/histogram.cc
  ${CMAKE_CURRENT_LIST_DIR}/bench/memcached_text.cc
  ${CMAKE_CURRENT_LIST_DIR}/bench/targets.cc
  ${CMAKE_CURRENT_LIST_DIR}/bench/handoff_baseline.cc)
target_include_directories(thrifty_bench_load PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(thrifty_bench_load PRIVATE ${THRIFTY_WARNINGS})
target_link_libraries(thrifty_bench_load PUBLIC thrifty_locator thrifty_diststore_idl thrifty_replica_placement)
if(TARGET PkgConfig::HIREDIS)
  target_compile_definitions(thrifty_bench_load PRIVATE THRIFTY_HAVE_HIREDIS)
  target_link_libraries(thrifty_bench_load PUBLIC PkgConfig::HIREDIS)
else()
  message(STATUS "hiredis not found: storebench is built without --target redis://")
endif()

thrifty_add_tool(storebench ${CMAKE_CURRENT_LIST_DIR}/storebench.cc thrifty_bench_load thrifty_cli)

thrifty_add_test(storebench_histogram_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bench/histogram_test.cc
  DEPS thrifty_bench_load)

# memcached's text protocol as storebench speaks it, on bytes alone (no server).
thrifty_add_test(storebench_memcached_text_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bench/memcached_text_test.cc
  DEPS thrifty_bench_load
  LABELS unit)
