#include "priv_writer.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "log.h"
#include "validator.h"

namespace bpftune::actuator {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;  // the kernel stores the thresholds as int
// Indexed by NeighTableIndex.
constexpr std::array<std::string_view, 2> NEIGH_TABLES = {"arp_cache", "ndisc_cache"};
constexpr const char* HIGH_ORDER_PATH = "/proc/sys/net/core/high_order_alloc_disable";
constexpr int MAX_ERRNO = 4095;

Error refusal(const std::string& why) {
  return makeError("privileged writer request refused: " + why, EINVAL);
}

Result<WriterCommand> validateThresholds(const WriterRequest& request) {
  if (request.table >= NEIGH_TABLES.size()) {
    return refusal("unknown neighbour table " + std::to_string(request.table));
  }
  const Values& t = request.values;
  if (t[0] < 0 || t[0] > t[1] || t[1] > t[2] || t[2] > INT_MAX_VALUE) {
    return refusal("thresholds " + policy::valuesText(t, 3) +
                   " are not 0 <= t1 <= t2 <= t3 <= INT_MAX");
  }
  return WriterCommand(NeighThresholds{NEIGH_TABLES[request.table], t});
}

Result<WriterCommand> validateFlag(const WriterRequest& request) {
  const Values& v = request.values;
  if (request.table != 0 || v[1] != 0 || v[2] != 0 || (v[0] != 0 && v[0] != 1)) {
    return refusal("high_order_alloc_disable takes 0 or 1 and nothing else");
  }
  return WriterCommand(HighOrderAllocDisable{v[0] == 1});
}

// The writer's own state: what it opened before its filter closed, and the netlink sequence.
struct WriterState {
  UniqueFd flag;      // high_order_alloc_disable, O_WRONLY (invalid: see flagError)
  int flagError = 0;  // why it could not be opened (ENOENT outside the init netns)
  uint32_t nextSeq = 1;
};

int execute(WriterState& state, const NeighThresholds& command) {
  Status sent = sendSetNeighTable(command.table, command.values, state.nextSeq++);
  return sent ? 0 : (sent.error().errnum != 0 ? sent.error().errnum : EIO);
}

// pwrite at offset 0: a sysctl ignores writes past the start of the file.
int execute(WriterState& state, const HighOrderAllocDisable& command) {
  if (!state.flag.valid()) {
    return state.flagError;
  }
  const char* text = command.disable ? "1\n" : "0\n";
  ssize_t n = ::pwrite(state.flag.get(), text, 2, 0);
  if (n < 0) {
    return errno;
  }
  return n == 2 ? 0 : EIO;
}

int serve(WriterState& state, const WriterRequest& request) {
  auto command = validateWriterRequest(request);
  if (!command) {
    // The actuator never builds such a request: it is compromised or broken. Say so, refuse.
    log::warning(describe(command.error()));
    return EINVAL;
  }
  return std::visit([&state](const auto& c) { return execute(state, c); }, *command);
}

// Only its socketpair end and stdin/out/err survive: not the netns opener's socket nor anything
// else the actuator had open when it forked us.
bool closeInherited(int sock) {
  if (sock > STDERR_FILENO + 1 &&
      ::close_range(STDERR_FILENO + 1, static_cast<unsigned>(sock) - 1, 0) != 0) {
    return false;
  }
  return ::close_range(static_cast<unsigned>(sock) + 1, ~0U, 0) == 0;
}

WriterState openFlag() {
  WriterState state;
  state.flag.reset(::open(HIGH_ORDER_PATH, O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!state.flag.valid()) {
    state.flagError = errno != 0 ? errno : EIO;
    log::info("privileged writer: " + std::string(HIGH_ORDER_PATH) +
              " not writable here: " + std::strerror(state.flagError));
  }
  return state;
}

[[noreturn]] void serveRequests(int sock, WriterState& state) {
  for (;;) {
    WriterRequest request;
    ssize_t n = ::recv(sock, &request, sizeof(request), MSG_TRUNC);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::_exit(0);  // the actuator closed its end
    }
    if (n != static_cast<ssize_t>(sizeof(request))) {
      log::error("privileged writer: malformed request of " + std::to_string(n) +
                 " bytes; exiting");
      ::_exit(1);
    }
    WriterReply reply{serve(state, request)};
    if (::send(sock, &reply, sizeof(reply), MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof(reply))) {
      ::_exit(0);  // the actuator is gone
    }
  }
}

[[noreturn]] void runWriter(int sock, std::optional<Identity> identity) {
  log::setPrefix("priv-writer");
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    ::_exit(1);  // a writer that could outlive the actuator must not run
  }
  (void)::prctl(PR_SET_NAME, "bpftune-writer");  // tells it from the actuator in ps
  if (!closeInherited(sock)) {
    log::error("privileged writer: close_range: " + std::string(std::strerror(errno)));
    ::_exit(1);
  }
  // glibc reads /etc/localtime on the first timestamp (the log's gmtime_r): now, as the filter
  // allows no open.
  ::tzset();
  WriterState state = openFlag();
  auto filter = SeccompFilter::buildWriter(state.flag.valid() ? state.flag.get() : -1);
  Status jailed =
      filter ? dropPrivileges(identity, {CAP_NET_ADMIN, CAP_SYS_ADMIN}) : Status(filter.error());
  if (jailed) {
    jailed = filter->load();
  }
  if (!jailed) {
    log::error("privileged writer: " + describe(jailed.error()));
    ::_exit(1);
  }
  serveRequests(sock, state);
}

Status answer(const policy::TunableInfo& info, int error) {
  if (error == 0) {
    return Ok{};
  }
  return makeError(std::string(info.name) + ": the privileged writer could not write it", error);
}

}  // namespace

Result<WriterCommand> validateWriterRequest(const WriterRequest& request) {
  switch (static_cast<WriterOp>(request.op)) {
    case WriterOp::SET_NEIGH_THRESHOLDS:
      return validateThresholds(request);
    case WriterOp::SET_HIGH_ORDER_ALLOC_DISABLE:
      return validateFlag(request);
  }
  return refusal("unknown op " + std::to_string(request.op));
}

Result<PrivWriter> PrivWriter::spawn(std::optional<Identity> identity) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return makeError("socketpair for the privileged writer", errno);
  }
  UniqueFd parentEnd(pair[0]);
  UniqueFd childEnd(pair[1]);
  pid_t pid = ::fork();
  if (pid < 0) {
    return makeError("fork the privileged writer", errno);
  }
  if (pid == 0) {
    parentEnd.reset();
    runWriter(childEnd.get(), identity);
  }
  return PrivWriter(std::move(parentEnd), pid);
}

// recvmsg, not recv: that is the call the actuator's filter allows (recv is recvfrom).
int PrivWriter::call(const WriterRequest& request) {
  if (::send(socket.get(), &request, sizeof(request), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(sizeof(request))) {
    throw std::runtime_error(
        "the privileged writer died (send: " + std::string(std::strerror(errno)) + ")");
  }
  WriterReply reply;
  iovec iov{&reply, sizeof(reply)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n = -1;
  do {
    n = ::recvmsg(socket.get(), &msg, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    // The writer is ours and never exits while we run: its death is a bug, not an input.
    throw std::runtime_error("the privileged writer died (recvmsg returned " + std::to_string(n) +
                             ")");
  }
  if (n != static_cast<ssize_t>(sizeof(reply)) || (msg.msg_flags & MSG_TRUNC) != 0 ||
      reply.error < 0 || reply.error > MAX_ERRNO) {
    throw std::runtime_error("the privileged writer sent a malformed reply");
  }
  return reply.error;
}

Status WriterNeighTables::write(const policy::TunableInfo& info, const Values& values) {
  for (size_t i = 0; i < NEIGH_TABLES.size(); ++i) {
    if (NEIGH_TABLES[i] == info.neighTable) {
      WriterRequest request{
          static_cast<uint32_t>(WriterOp::SET_NEIGH_THRESHOLDS), static_cast<uint32_t>(i), values};
      return answer(info, writer.call(request));
    }
  }
  return makeError(std::string(info.name) + ": no neighbour table '" +
                       std::string(info.neighTable) + "'",
                   EINVAL);
}

Status WriterStaticKeys::write(const policy::TunableInfo& info, const Values& values) {
  if (info.id != policy::TunableId::HIGH_ORDER_ALLOC_DISABLE) {
    return makeError(std::string(info.name) + " is not a static key the writer knows", EOPNOTSUPP);
  }
  WriterRequest request{
      static_cast<uint32_t>(WriterOp::SET_HIGH_ORDER_ALLOC_DISABLE), 0, Values{values[0], 0, 0}};
  return answer(info, writer.call(request));
}

}  // namespace bpftune::actuator
