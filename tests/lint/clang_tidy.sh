#!/usr/bin/env bash
# clang-tidy (repository .clang-tidy) over every project .cpp in the compilation database:
# collector, actuator, policy, proto/lib, tuners. Unit tests and generated sources are left out.
# Any finding is an error.
# usage: clang_tidy.sh RUN_CLANG_TIDY BUILD_DIR
set -euo pipefail
RUN_CLANG_TIDY=${1:?usage: clang_tidy.sh RUN_CLANG_TIDY BUILD_DIR}
BUILD_DIR=$(cd "${2:?usage: clang_tidy.sh RUN_CLANG_TIDY BUILD_DIR}" && pwd)
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DB=${BUILD_DIR}/compile_commands.json
if [[ ! -f ${DB} ]]; then
  echo "no ${DB}: configure with CMAKE_EXPORT_COMPILE_COMMANDS=ON" >&2
  exit 1
fi

# Python regex, matched by run-clang-tidy against the absolute paths in the database.
FILES_RE="^${SOURCE_DIR}/(collector|actuator|policy|proto/lib|tuners)/(?!.*_test\\.cpp\$).*\\.cpp\$"
count=$(python3 - "${DB}" "${FILES_RE}" <<'EOF'
import json, re, sys
entries = json.load(open(sys.argv[1]))
pattern = re.compile(sys.argv[2])
print(len({e["file"] for e in entries if pattern.search(e["file"])}))
EOF
)
if [[ ${count} -eq 0 ]]; then
  echo "no project sources under ${SOURCE_DIR} in ${DB}" >&2
  exit 1
fi
echo "checking ${count} files with ${RUN_CLANG_TIDY}"

# run-clang-tidy 14 has no -warnings-as-errors: there, a wrapper passes it to clang-tidy itself
# (clang-tidy-NN next to run-clang-tidy-NN, or plain clang-tidy).
args=(-p "${BUILD_DIR}" -j "$(nproc)" -quiet)
if "${RUN_CLANG_TIDY}" -h 2>&1 | grep -q -- '-warnings-as-errors'; then
  args+=(-warnings-as-errors='*')
else
  suffix=
  if [[ ${RUN_CLANG_TIDY##*/} =~ -[0-9]+$ ]]; then
    suffix=${BASH_REMATCH[0]}
  fi
  tidy=$(command -v "clang-tidy${suffix}")
  wrapper=$(mktemp)
  trap 'rm -f "${wrapper}"' EXIT
  printf '#!/bin/sh\nexec "%s" --warnings-as-errors="*" "$@"\n' "${tidy}" >"${wrapper}"
  chmod +x "${wrapper}"
  args+=(-clang-tidy-binary "${wrapper}")
fi

start=${SECONDS}
status=0
"${RUN_CLANG_TIDY}" "${args[@]}" "${FILES_RE}" || status=$?
echo "clang-tidy: ${count} files in $((SECONDS - start)) s"
if [[ ${status} -ne 0 ]]; then
  echo "clang-tidy: findings above (exit ${status})" >&2
  exit 1
fi
echo "clang-tidy: no findings"
