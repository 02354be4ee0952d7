# storeselect: which nodes own which keys, from a node list or (--peer) a live cluster.
thrifty_add_tool(storeselect ${CMAKE_CURRENT_LIST_DIR}/storeselect.cc thrifty_placement thrifty_locator thrifty_cli)
