#include "result.h"

#include <cstring>

namespace bpftune {

std::string describe(const Error& error) {
  if (error.errnum == 0) {
    return error.message;
  }
  return error.message + ": " + std::strerror(error.errnum);
}

}  // namespace bpftune
