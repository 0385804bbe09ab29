// Result<T>: an expected failure as a value. std::expected does not parse under clang 14 with
// libstdc++ 12 (clang-tidy uses clang), so this is the small in-house version.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace bpftune {

struct Error {
  std::string message;
  int errnum = 0;  // errno when the failure came from a system call, else 0
};

template <typename T>
class [[nodiscard]] Result {
public:
  Result(T value) : state(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(state); }
  const T& value() const { return std::get<T>(state); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(state); }

private:
  std::variant<T, Error> state;
};

// Result<void>
struct Ok {};
using Status = Result<Ok>;

inline Error makeError(std::string message, int errnum = 0) {
  return Error{std::move(message), errnum};
}

// "message: strerror(errnum)" for logs.
std::string describe(const Error& error);

}  // namespace bpftune
