# BPF objects: vmlinux.h is generated from the running kernel's BTF (CO-RE keeps the objects
# portable), each bpf/<name>.bpf.c is compiled with clang -target bpf and embedded as a libbpf
# skeleton header <name>.skel.h under ${BPFTUNE_GENERATED_DIR}.

find_program(BPFTOOL bpftool PATHS /usr/sbin /sbin REQUIRED)
find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
set(BPFTUNE_BTF_SOURCE /sys/kernel/btf/vmlinux CACHE FILEPATH "BTF used to generate vmlinux.h")

set(BPFTUNE_VMLINUX_H ${BPFTUNE_GENERATED_DIR}/vmlinux.h)
add_custom_command(
  OUTPUT ${BPFTUNE_VMLINUX_H}
  COMMAND ${BPFTOOL} btf dump file ${BPFTUNE_BTF_SOURCE} format c > ${BPFTUNE_VMLINUX_H}.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${BPFTUNE_VMLINUX_H}.tmp ${BPFTUNE_VMLINUX_H}
  COMMENT "Generating vmlinux.h from ${BPFTUNE_BTF_SOURCE}"
  VERBATIM)
add_custom_target(bpftune_vmlinux_h DEPENDS ${BPFTUNE_VMLINUX_H})

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64")
  set(BPF_TARGET_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  set(BPF_TARGET_ARCH arm64)
else()
  set(BPF_TARGET_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# bpftune_bpf_skeleton(<name> <source> [DEPENDS headers...])
# Produces ${BPFTUNE_GENERATED_DIR}/<name>.skel.h and an interface target bpf_<name>.
function(bpftune_bpf_skeleton name source)
  cmake_parse_arguments(ARG "" "" "DEPENDS" ${ARGN})
  set(obj ${BPFTUNE_GENERATED_DIR}/${name}.bpf.o)
  set(skel ${BPFTUNE_GENERATED_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_${BPF_TARGET_ARCH}
            -I${BPFTUNE_GENERATED_DIR} -I${CMAKE_SOURCE_DIR}/bpf
            -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${source} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${source} ${BPFTUNE_VMLINUX_H} ${ARG_DEPENDS}
    COMMENT "BPF ${source}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(bpf_${name}_skel DEPENDS ${skel})
  # vmlinux.h comes from a custom command in the top directory; Makefile generators only see it
  # from another directory through a target-level dependency.
  add_dependencies(bpf_${name}_skel bpftune_vmlinux_h)
  add_library(bpf_${name} INTERFACE)
  add_dependencies(bpf_${name} bpf_${name}_skel)
  target_include_directories(bpf_${name} INTERFACE ${BPFTUNE_GENERATED_DIR} ${CMAKE_SOURCE_DIR}/bpf)
  target_link_libraries(bpf_${name} INTERFACE PkgConfig::LIBBPF)
endfunction()
