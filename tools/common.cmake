# Shared command-line code of the tools: flags parsed by CLI11, --json written by nlohmann::json.
find_package(CLI11 2.1 REQUIRED)
# examples/ use the tools' command-line code as well (nlohmann_json is found at the top level).
set_target_properties(CLI11::CLI11 PROPERTIES IMPORTED_GLOBAL TRUE)

add_library(thrifty_cli STATIC
  ${CMAKE_CURRENT_LIST_DIR}/common/cli.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/format.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/tls_flags.cc)
target_include_directories(thrifty_cli PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(thrifty_cli PRIVATE ${THRIFTY_WARNINGS})
# glog's own settings (FLAGS_logtostderr, ...) are set directly; nothing parses them.
target_link_libraries(thrifty_cli PUBLIC thrifty_rpc thrifty_version glog::glog CLI11::CLI11
  nlohmann_json::nlohmann_json)

# The flags of the node binaries (locator, storeserver).
add_library(thrifty_node_cli STATIC
  ${CMAKE_CURRENT_LIST_DIR}/common/node_flags.cc)
target_include_directories(thrifty_node_cli PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(thrifty_node_cli PRIVATE ${THRIFTY_WARNINGS})
target_link_libraries(thrifty_node_cli PUBLIC thrifty_locator thrifty_cli)
