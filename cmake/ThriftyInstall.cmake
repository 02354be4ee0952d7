# What `cmake --install` puts under the prefix (besides the tools, which thrifty_add_tool
# installs in bin/):
#   include/thrifty/            the C++ client's headers and the project headers they include,
#                               by their path in the checkout ("diststore/client/cluster_client.h")
#   include/thrifty/gen-cpp/<idl>/  the generated Thrift headers those need (from the build tree)
#   lib/                        the static libraries the client links, lowest last
#   lib/cmake/thrifty/          the CMake package: find_package(thrifty) gives thrifty::client
#                               and thrifty::locator (and the libraries below them)
#   lib/pkgconfig/thrifty-client.pc
#   share/thrifty/              the .thrift files (the API, for other languages)
# The tree is relocatable: the CMake package and the .pc file find the prefix from where they lie.
include(CMakePackageConfigHelpers)

# The public targets: the ring-aware client, and the locator library under it (Ring,
# ClusterSnapshot, DiscoverPeer, placement, pooled Thrift connections). The libraries under
# them are exported too (thrifty::rpc, thrifty::locator_idl, ...), as their link dependencies.
# The locator node (thrifty_locator: membership, SWIM) and the store are not installed.
set_target_properties(thrifty_client PROPERTIES EXPORT_NAME client)
set_target_properties(thrifty_locator_client PROPERTIES EXPORT_NAME locator)

# Our libraries the public targets link, each before the ones it links (a valid order for the
# linker), found by walking their INTERFACE_LINK_LIBRARIES. Imported targets are dependencies
# from the system and are collected apart.
function(_thrifty_visit target)
  get_target_property(aliased ${target} ALIASED_TARGET)
  if(aliased)
    set(target ${aliased})
  endif()
  get_property(seen GLOBAL PROPERTY _THRIFTY_INSTALL_SEEN)
  if(target IN_LIST seen)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY _THRIFTY_INSTALL_SEEN ${target})
  get_target_property(imported ${target} IMPORTED)
  if(imported)
    set_property(GLOBAL APPEND PROPERTY _THRIFTY_INSTALL_IMPORTED ${target})
    return()
  endif()
  get_target_property(deps ${target} INTERFACE_LINK_LIBRARIES)
  if(NOT deps)
    set(deps "")
  endif()
  foreach(dep IN LISTS deps)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
    if(NOT TARGET ${dep})
      message(FATAL_ERROR "${target} links '${dep}', which is not a target: the installed "
                          "package cannot name it (cmake/ThriftyInstall.cmake)")
    endif()
    _thrifty_visit(${dep})
  endforeach()
  set_property(GLOBAL APPEND PROPERTY _THRIFTY_INSTALL_ORDER ${target})
endfunction()
_thrifty_visit(thrifty_client)
_thrifty_visit(thrifty_locator_client)
get_property(THRIFTY_INSTALLED_LIBS GLOBAL PROPERTY _THRIFTY_INSTALL_ORDER)
list(REVERSE THRIFTY_INSTALLED_LIBS)
get_property(imported_deps GLOBAL PROPERTY _THRIFTY_INSTALL_IMPORTED)

# What stands for each system dependency in thrifty-client.pc: a pkg-config module (Requires)
# or flags (Libs). thriftyConfig.cmake.in finds the same targets: a dependency added to an
# installed library must be added here and there.
set(pc_module_PkgConfig::THRIFT thrift)
set(pc_module_PkgConfig::XXHASH libxxhash)
set(pc_module_OpenSSL::SSL libssl)
set(pc_module_OpenSSL::Crypto libcrypto)
set(pc_module_glog::glog libglog)
set(pc_flags_Threads::Threads -pthread)
set(pc_flags_Boost::boost "")  # the headers only, in the compiler's default path on Debian
set(pc_requires "")
set(pc_flags "")
foreach(dep IN LISTS imported_deps)
  if(DEFINED pc_module_${dep})
    list(APPEND pc_requires ${pc_module_${dep}})
  elseif(DEFINED pc_flags_${dep})
    list(APPEND pc_flags ${pc_flags_${dep}})
  else()
    message(FATAL_ERROR "an installed library links ${dep}: say in cmake/ThriftyInstall.cmake "
                        "what stands for it in thrifty-client.pc, and find it in "
                        "cmake/thriftyConfig.cmake.in")
  endif()
endforeach()

# Libraries and their generated headers.
set(config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/thrifty)
install(TARGETS ${THRIFTY_INSTALLED_LIBS} EXPORT thrifty-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set(pc_libs "")
set(pc_cflags "-I\${includedir}")
foreach(lib IN LISTS THRIFTY_INSTALLED_LIBS)
  get_target_property(type ${lib} TYPE)
  get_target_property(output_name ${lib} OUTPUT_NAME)
  if(NOT type STREQUAL "STATIC_LIBRARY" OR output_name)
    message(FATAL_ERROR "${lib}: thrifty-client.pc expects a static library named after its target")
  endif()
  string(APPEND pc_libs " -l${lib}")
  # thrifty::rpc, thrifty::locator_idl, ... (the two public ones are named above)
  get_target_property(export_name ${lib} EXPORT_NAME)
  if(NOT export_name)
    string(REGEX REPLACE "^thrifty_" "" export_name ${lib})
    set_target_properties(${lib} PROPERTIES EXPORT_NAME ${export_name})
  endif()
  get_target_property(generated ${lib} THRIFTY_GENERATED_HEADERS)
  if(generated)
    get_target_property(idl ${lib} THRIFTY_IDL_NAME)
    install(FILES ${generated} DESTINATION ${THRIFTY_INSTALL_INCLUDEDIR}/gen-cpp/${idl})
    string(APPEND pc_cflags " -I\${includedir}/gen-cpp/${idl}")
  endif()
endforeach()
# Aliases under the installed names, for code in this tree that wants to spell them alike.
add_library(thrifty::client ALIAS thrifty_client)
add_library(thrifty::locator ALIAS thrifty_locator_client)

# The project headers of the installed libraries: cluster_client.h, the locator library's
# ring.h, cluster_snapshot.h, discovery.h and zone.h, and every project header they include. The
# install test compiles all of them against the installed tree alone, so an include added to
# one of these without adding the file here fails it.
set(THRIFTY_INSTALLED_HEADERS
  diststore/client/cluster_client.h
  diststore/limits/store_limits.h
  locator/placement/placement.h
  locator/placement/placement_error.h
  locator/rpc/address.h
  locator/rpc/connect.h
  locator/rpc/connection_pool.h
  locator/rpc/failpoints.h
  locator/rpc/fan_out.h
  locator/rpc/framed_transport.h
  locator/rpc/limits.h
  locator/service/cluster_snapshot.h
  locator/service/discovery.h
  locator/service/ring.h
  locator/service/zone.h)
foreach(header IN LISTS THRIFTY_INSTALLED_HEADERS)
  get_filename_component(dir ${header} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${header} DESTINATION ${THRIFTY_INSTALL_INCLUDEDIR}/${dir})
endforeach()

# The API's IDLs.
file(GLOB idl_files ${PROJECT_SOURCE_DIR}/thrift/*.thrift)
install(FILES ${idl_files} DESTINATION ${CMAKE_INSTALL_DATADIR}/thrifty)

# The CMake package.
install(EXPORT thrifty-targets NAMESPACE thrifty:: FILE thriftyTargets.cmake
  DESTINATION ${config_dir})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/thriftyConfig.cmake.in
  ${PROJECT_BINARY_DIR}/thriftyConfig.cmake INSTALL_DESTINATION ${config_dir})
# 0.x: a minor release may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/thriftyConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/thriftyConfig.cmake ${PROJECT_BINARY_DIR}/thriftyConfigVersion.cmake
  DESTINATION ${config_dir})

# The pkg-config file. The libraries are static, so everything they need is needed to link
# any program: the system libraries are in Requires (not Requires.private) and plain
# `pkg-config --libs` gives a complete link line. The prefix is found from the file's place.
set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE ${CMAKE_INSTALL_LIBDIR} OR IS_ABSOLUTE ${CMAKE_INSTALL_INCLUDEDIR})
  set(pc_prefix ${CMAKE_INSTALL_PREFIX})
  set(pc_libdir ${CMAKE_INSTALL_FULL_LIBDIR})
  set(pc_includedir ${CMAKE_INSTALL_FULL_INCLUDEDIR}/thrifty)
else()
  file(RELATIVE_PATH relative /prefix/${pc_dir} /prefix)
  string(REGEX REPLACE "/$" "" relative "${relative}")
  set(pc_prefix "\${pcfiledir}/${relative}")
  set(pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(pc_includedir "\${prefix}/${THRIFTY_INSTALL_INCLUDEDIR}")
endif()
string(REPLACE ";" " " pc_requires "${pc_requires}")
list(REMOVE_DUPLICATES pc_flags)
string(REPLACE ";" " " pc_flags "${pc_flags}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/thrifty-client.pc.in ${PROJECT_BINARY_DIR}/thrifty-client.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/thrifty-client.pc DESTINATION ${pc_dir})
