#!/usr/bin/env bash
# clang-format --dry-run -Werror over every C/C++ source the repository holds.
set -euo pipefail
CLANG_FORMAT=${1:-clang-format}
mapfile -t files < <(find collector actuator policy proto tuners bpf tests bench include examples fuzz \
  -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.c' \) 2>/dev/null | sort)
echo "checking ${#files[@]} files with $($CLANG_FORMAT --version)"
"$CLANG_FORMAT" --dry-run -Werror "${files[@]}"
echo "clang-format: all files conform"
