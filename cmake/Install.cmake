# Install rules (GNUInstallDirs), used by `cmake --install` and by the Debian package (debian/).
#   sbin:                   bpftune-actuator, bpftune-collector and the bpftune CLI together (the
#                           units run /usr/sbin/bpftune-*; `bpftune run` finds the daemons beside
#                           itself)
#   BPFTUNE_SYSTEMD_UNITDIR systemd/*.service
#   lib/sysusers.d, lib/tmpfiles.d   systemd/{sysusers.d,tmpfiles.d}/bpftune.conf
#   /etc/bpftune/policy     the policy the units pass with --policy (a conffile in the package)
#   share/bpftune/default.policy     the pristine copy (BPFTUNE_SHIPPED_POLICY, the CLI's fallback)
#   share/selinux/packages/bpftune.pp  the SELinux module, with BPFTUNE_BUILD_SELINUX=ON
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
