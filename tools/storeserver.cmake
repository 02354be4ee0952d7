thrifty_add_tool(storeserver ${CMAKE_CURRENT_LIST_DIR}/storeserver.cc thrifty_diststore thrifty_node_cli)
