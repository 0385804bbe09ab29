// Test tool for fsync_failure.sh and many_netns.sh: sends one valid setSysctl for
// net.ipv4.tcp_rmem (max + 10 %) to the actuator's collector socket, as the collector would. Run
// it as the collector user inside the namespace to change: it reads the live value and the netns
// cookie there. `--repeat N` sends N changes (max +10 %, back, ...) and prints the mean round trip
// per write, for the per-write cost with many namespaces.
// Exit: 0 a reply arrived (status printed), 3 the connection closed without a reply,
// 1 any other error, 2 usage.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <string>

#include "client.h"
#include "unique_fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace {

constexpr int EXIT_NO_REPLY = 3;

bool netnsCookie(uint64_t& cookie) {
  bpftune::UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  socklen_t length = sizeof(cookie);
  return fd.valid() && ::getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &length) == 0;
}

bool liveRmem(std::array<int64_t, 3>& values) {
  std::ifstream in("/proc/sys/net/ipv4/tcp_rmem");
  return static_cast<bool>(in >> values[0] >> values[1] >> values[2]);
}

std::string valuesText(const std::array<int64_t, 3>& v) {
  return std::to_string(v[0]) + " " + std::to_string(v[1]) + " " + std::to_string(v[2]);
}

}  // namespace

// Alternates the max between its value and +10 %, each request expecting the previous one.
int repeat(bpftune::actuator::ActuatorClient& client,
           bpftune::actuator::SetSysctlArgs args,
           int count) {
  const int64_t base = args.expected[2];
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    args.newValues = args.expected;
    args.newValues[2] = args.expected[2] == base ? base + base / 10 : base;
    auto reply = client.setSysctl(args);
    if (!reply || reply->status != bpftune::proto::Status::OK) {
      std::cerr << "send_request: request " << i
                << " failed: " << (reply ? reply->reason : bpftune::describe(reply.error()))
                << "\n";
      return 1;
    }
    args.expected = args.newValues;
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::cout << "per_write_us=" << us / count << " writes=" << count << std::endl;
  return 0;
}

int main(int argc, char** argv) {
  using bpftune::actuator::ActuatorClient;
  int repeatCount = 0;
  if (argc == 4 && std::string(argv[2]) == "--repeat") {
    repeatCount = std::stoi(argv[3]);
  } else if (argc != 2) {
    std::cerr << "usage: send_request COLLECTOR_SOCKET [--repeat N]\n";
    return 2;
  }
  bpftune::actuator::SetSysctlArgs args;
  args.tuner = bpftune::proto::TunerId::TCP_BUFFER;
  args.scenario = bpftune::proto::ScenarioId::BUFFER_INCREASE;
  args.tunable = bpftune::proto::TunableId::TCP_RMEM;
  args.count = 3;
  if (!netnsCookie(args.netnsCookie)) {
    std::cerr << "send_request: getsockopt(SO_NETNS_COOKIE) failed: errno " << errno << "\n";
    return 1;
  }
  if (!liveRmem(args.expected)) {
    std::cerr << "send_request: cannot read /proc/sys/net/ipv4/tcp_rmem\n";
    return 1;
  }
  args.newValues = args.expected;
  args.newValues[2] += args.expected[2] / 10;
  std::cout << "request: tcp_rmem " << valuesText(args.expected) << " -> "
            << valuesText(args.newValues) << " netns " << args.netnsCookie << std::endl;
  auto client = ActuatorClient::connect(argv[1]);
  if (!client) {
    std::cerr << "send_request: " << bpftune::describe(client.error()) << "\n";
    return 1;
  }
  if (repeatCount > 0) {
    return repeat(*client, args, repeatCount);
  }
  auto reply = client->setSysctl(args);
  if (!reply) {
    const auto& error = reply.error();
    std::cout << "no reply: " << bpftune::describe(error) << std::endl;
    // Closed (recv returned 0) or reset: the actuator went away without answering.
    bool closed = error.message.find("closed the connection") != std::string::npos ||
                  error.errnum == ECONNRESET || error.errnum == EPIPE;
    return closed ? EXIT_NO_REPLY : 1;
  }
  std::cout << "reply: status=" << bpftune::actuator::statusName(reply->status)
            << " seq=" << reply->journalSeq << " reason=" << reply->reason << std::endl;
  return 0;
}
