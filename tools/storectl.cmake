thrifty_add_tool(storectl ${CMAKE_CURRENT_LIST_DIR}/storectl.cc thrifty_client_cli thrifty_locator)
