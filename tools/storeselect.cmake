# storeselect: which nodes own which keys, computed locally from a node list.
thrifty_add_tool(storeselect ${CMAKE_CURRENT_LIST_DIR}/storeselect.cc thrifty_placement gflags)
