thrifty_add_tool(locator ${CMAKE_CURRENT_LIST_DIR}/locator.cc thrifty_locator thrifty_node_cli)
