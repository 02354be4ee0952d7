# The client commands (thrifty-p2p's names).
add_library(thrifty_client_cli STATIC
  ${CMAKE_CURRENT_LIST_DIR}/common/client_flags.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/dataset.cc
  ${CMAKE_CURRENT_LIST_DIR}/common/dataset_flags.cc)
target_include_directories(thrifty_client_cli PUBLIC ${PROJECT_SOURCE_DIR})
target_compile_options(thrifty_client_cli PRIVATE ${THRIFTY_WARNINGS})
target_link_libraries(thrifty_client_cli PUBLIC thrifty_client thrifty_cli)

foreach(tool storeput storeget storeprimer storetest)
  thrifty_add_tool(${tool} ${CMAKE_CURRENT_LIST_DIR}/${tool}.cc thrifty_client_cli)
endforeach()
