# Install rules (GNUInstallDirs), used by `cmake --install` and by the Debian package (debian/).
#   sbin:                   bpftune-actuator, bpftune-collector and the bpftune CLI together (the
#                           units run /usr/sbin/bpftune-*; `bpftune run` finds the daemons beside
#                           itself)
#   BPFTUNE_SYSTEMD_UNITDIR systemd/*.service
#   lib/sysusers.d, lib/tmpfiles.d   systemd/{sysusers.d,tmpfiles.d}/bpftune.conf
#   /etc/bpftune/policy     the policy the units pass with --policy (a conffile in the package)
#   share/bpftune/default.policy     the pristine copy (BPFTUNE_SHIPPED_POLICY, the CLI's fallback)
#   share/selinux/packages/bpftune.pp  the SELinux module, with BPFTUNE_BUILD_SELINUX=ON
#   include/bpftune/plugin.h, LIBDIR/pkgconfig/bpftune-plugin.pc   the plugin ABI (examples/)
#   LIBDIR/bpftune/plugins  the plugin directory (root, 0755)
# Man pages are installed by man/CMakeLists.txt.

install(TARGETS bpftune-actuator bpftune-collector bpftune RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# Debian 12 keeps units in /lib/systemd/system (its pkg-config systemdsystemunitdir, the place
# dh_installsystemd looks); debian/rules passes that. Relative paths are under the prefix.
set(BPFTUNE_SYSTEMD_UNITDIR "lib/systemd/system" CACHE PATH "Where the systemd units go")
file(GLOB BPFTUNE_UNITS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/systemd/*.service)
install(FILES ${BPFTUNE_UNITS} DESTINATION ${BPFTUNE_SYSTEMD_UNITDIR})
install(FILES ${CMAKE_SOURCE_DIR}/systemd/sysusers.d/bpftune.conf DESTINATION lib/sysusers.d)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/tmpfiles.d/bpftune.conf DESTINATION lib/tmpfiles.d)

# With prefix /usr, GNUInstallDirs makes the full sysconfdir /etc.
install(FILES ${CMAKE_SOURCE_DIR}/policy/default.policy
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/bpftune RENAME policy)
install(FILES ${CMAKE_SOURCE_DIR}/policy/default.policy DESTINATION ${CMAKE_INSTALL_DATADIR}/bpftune)

if(BPFTUNE_BUILD_SELINUX)
  # selinux-policy-dev's Makefile compiles NAME.te/.if/.fc in its working directory; a copy in
  # the build tree keeps the source tree clean.
  set(BPFTUNE_SELINUX_MAKEFILE "/usr/share/selinux/devel/Makefile"
      CACHE FILEPATH "The SELinux policy devel Makefile (Debian: selinux-policy-dev)")
  if(NOT EXISTS ${BPFTUNE_SELINUX_MAKEFILE})
    message(FATAL_ERROR "BPFTUNE_BUILD_SELINUX=ON needs ${BPFTUNE_SELINUX_MAKEFILE} "
                        "(Debian package selinux-policy-dev)")
  endif()
  set(selinux_dir ${CMAKE_BINARY_DIR}/selinux)
  set(selinux_sources "")
  foreach(ext te if fc)
    configure_file(${CMAKE_SOURCE_DIR}/selinux/bpftune.${ext} ${selinux_dir}/bpftune.${ext} COPYONLY)
    list(APPEND selinux_sources ${selinux_dir}/bpftune.${ext})
  endforeach()
  add_custom_command(
    OUTPUT ${selinux_dir}/bpftune.pp
    COMMAND make -f ${BPFTUNE_SELINUX_MAKEFILE} bpftune.pp
    WORKING_DIRECTORY ${selinux_dir}
    DEPENDS ${selinux_sources}
    COMMENT "SELinux module bpftune.pp"
    VERBATIM)
  add_custom_target(selinux_module ALL DEPENDS ${selinux_dir}/bpftune.pp)
  install(FILES ${selinux_dir}/bpftune.pp DESTINATION ${CMAKE_INSTALL_DATADIR}/selinux/packages)
endif()

# The plugin ABI: one C header and a relocatable pkg-config file (prefix from the .pc's own
# place, so a staging prefix works as well as /usr).
# Component devel: `cmake --install build --component devel --prefix DIR` stages just these.
install(FILES ${CMAKE_SOURCE_DIR}/include/bpftune/plugin.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bpftune
        COMPONENT devel)
file(RELATIVE_PATH BPFTUNE_PC_TO_PREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" BPFTUNE_PC_TO_PREFIX "${BPFTUNE_PC_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/bpftune-plugin.pc.in ${CMAKE_BINARY_DIR}/bpftune-plugin.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/bpftune-plugin.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT devel)
install(DIRECTORY DESTINATION ${CMAKE_INSTALL_LIBDIR}/bpftune/plugins
        DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                              WORLD_READ WORLD_EXECUTE)
