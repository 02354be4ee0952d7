# Shared command-line code of the tools.
add_library(thrifty_cli STATIC
  ${CMAKE_CURRENT_LIST_DIR}/common/cli.cc)
target_include_directories(thrifty_cli PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(thrifty_cli PRIVATE ${THRIFTY_WARNINGS})
target_link_libraries(thrifty_cli PUBLIC thrifty_rpc gflags glog::glog)

# Node flags live in each node binary (gflags definitions must not clash across tools).
set(THRIFTY_NODE_FLAGS ${CMAKE_CURRENT_LIST_DIR}/common/node_flags.cc)
