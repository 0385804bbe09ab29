// Test tool for fsync_failure.sh, many_netns.sh and route_congctl.sh: sends requests to the
// actuator's collector socket, as the collector would. Run it as the collector user inside the
// namespace to change: it reads the live value and the netns cookie there.
//   send_request SOCKET                  one setSysctl for net.ipv4.tcp_rmem (max + 10 %)
//   send_request SOCKET --repeat N       N such changes (max +10 %, back, ...); prints the mean
//                                        round trip per write, for the cost with many namespaces
//   send_request SOCKET --route HOST NEW EXPECTED [--family F] [--alternate N]
//                                        routeCongctl for HOST: algorithm NEW (a name, "none" or a
//                                        number) replacing EXPECTED; --family overrides the host's
//                                        family; --alternate sends N requests, NEW and EXPECTED in
//                                        turn (each expecting the last), and the mean round trip
//   send_request SOCKET --stream N LOW HIGH
//                                        N tcp_rmem changes, the max toggled between LOW and HIGH
//                                        (each expecting the previous); prints "ack seq=S max=M"
//                                        for every OK reply, for crash_inject.sh's lost-ack check
//   send_request SOCKET --live-switch HOST FROM TO [COUNT]
//                                        COUNT reportLiveSwitch (default 1); prints each status
// Route and live-switch replies print status, field, seq, reason and the round trip in us.
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
#include <optional>
#include <string>
#include <vector>

#include "client.h"
#include "tunable_table.h"
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

std::optional<int64_t> algorithm(const std::string& text) {
  if (text == "none") {
    return 0;
  }
  if (auto alg = bpftune::policy::congAlgFromName(text)) {
    return static_cast<int64_t>(*alg);
  }
  try {
    return std::stoll(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void printReply(const bpftune::actuator::ClientReply& reply, int64_t us) {
  std::cout << "reply: status=" << bpftune::actuator::statusName(reply.status)
            << " field=" << reply.field << " seq=" << reply.journalSeq << " us=" << us
            << " reason=" << reply.reason << std::endl;
}

int64_t elapsedUs(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// "--name value" options after the positional arguments of --route.
std::optional<int> option(const std::vector<std::string>& args, const std::string& name) {
  for (size_t i = 3; i + 1 < args.size(); ++i) {
    if (args[i] == name) {
      return std::stoi(args[i + 1]);
    }
  }
  return std::nullopt;
}

// routeCongctl for one host, as tcp_conn sends it.
int sendRoute(bpftune::actuator::ActuatorClient& client,
              uint64_t cookie,
              const std::vector<std::string>& args) {
  auto host = bpftune::HostAddress::parse(args[0]);
  auto next = algorithm(args[1]);
  auto expected = algorithm(args[2]);
  if (!host || !next || !expected) {
    std::cerr << "send_request: --route HOST NEW EXPECTED [--family F] [--alternate N]\n";
    return 2;
  }
  bpftune::actuator::SetSysctlArgs a;
  a.tuner = bpftune::proto::TunerId::TCP_CONN;
  a.scenario = bpftune::proto::ScenarioId::CONGCTL_SELECT;
  a.netnsCookie = cookie;
  a.tunable = bpftune::proto::TunableId::ROUTE_CONGCTL;
  a.count = 1;
  a.expected[0] = *expected;
  a.newValues[0] = *next;
  a.host = *host;
  if (auto family = option(args, "--family")) {
    a.host.family = static_cast<uint8_t>(*family);
  }
  const int count = option(args, "--alternate").value_or(1);
  int64_t total = 0;
  for (int i = 0; i < count; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto reply = client.setSysctl(a);
    if (!reply) {
      std::cout << "no reply: " << bpftune::describe(reply.error()) << std::endl;
      return 1;
    }
    const int64_t us = elapsedUs(start);
    total += us;
    printReply(*reply, us);
    std::swap(a.expected[0], a.newValues[0]);
  }
  if (count > 1) {
    std::cout << "per_request_us=" << total / count << " requests=" << count << std::endl;
  }
  return 0;
}

int sendLiveSwitch(bpftune::actuator::ActuatorClient& client,
                   uint64_t cookie,
                   const std::vector<std::string>& args) {
  auto host = bpftune::HostAddress::parse(args[0]);
  auto from = algorithm(args[1]);
  auto to = algorithm(args[2]);
  int count = args.size() > 3 ? std::stoi(args[3]) : 1;
  if (!host || !from || !to) {
    std::cerr << "send_request: --live-switch HOST FROM TO [COUNT]\n";
    return 2;
  }
  bpftune::actuator::LiveSwitchReport r;
  r.netnsCookie = cookie;
  r.host = *host;
  r.fromAlg = static_cast<bpftune::proto::CongAlg>(*from);
  r.toAlg = static_cast<bpftune::proto::CongAlg>(*to);
  r.localPort = 40000;
  r.remotePort = 5201;
  r.retransmits = 300;
  r.segsOut = 10000;
  for (int i = 0; i < count; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto reply = client.reportLiveSwitch(r);
    if (!reply) {
      std::cout << "no reply: " << bpftune::describe(reply.error()) << std::endl;
      return 1;
    }
    printReply(*reply, elapsedUs(start));
  }
  return 0;
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

// Toggles the max between two fixed values, so that a stream cut anywhere by a crash leaves the
// live value at one of them and the next stream starts from there. One line per reply; exit 3
// when the actuator went away without answering.
int stream(bpftune::actuator::ActuatorClient& client,
           bpftune::actuator::SetSysctlArgs args,
           int count,
           int64_t low,
           int64_t high) {
  for (int i = 0; i < count; ++i) {
    args.newValues = args.expected;
    args.newValues[2] = args.expected[2] == high ? low : high;
    auto reply = client.setSysctl(args);
    if (!reply) {
      std::cout << "no reply: " << bpftune::describe(reply.error()) << std::endl;
      return EXIT_NO_REPLY;
    }
    if (reply->status != bpftune::proto::Status::OK) {
      std::cout << "refused: status=" << bpftune::actuator::statusName(reply->status)
                << " reason=" << reply->reason << std::endl;
      return 1;
    }
    std::cout << "ack seq=" << reply->journalSeq << " max=" << args.newValues[2] << std::endl;
    args.expected = args.newValues;
  }
  return 0;
}

int main(int argc, char** argv) {
  using bpftune::actuator::ActuatorClient;
  const std::vector<std::string> argList(argv + 1, argv + argc);
  const std::string mode = argList.size() > 1 ? argList[1] : "";
  if ((mode == "--route" || mode == "--live-switch") && argList.size() >= 5) {
    uint64_t cookie = 0;
    auto client = ActuatorClient::connect(argList[0]);
    if (!netnsCookie(cookie) || !client) {
      std::cerr << "send_request: no netns cookie or no connection\n";
      return 1;
    }
    std::vector<std::string> rest(argList.begin() + 2, argList.end());
    return mode == "--route" ? sendRoute(*client, cookie, rest)
                             : sendLiveSwitch(*client, cookie, rest);
  }
  int repeatCount = 0;
  int streamCount = 0;
  if (argc == 6 && std::string(argv[2]) == "--stream") {
    streamCount = std::stoi(argv[3]);
  } else if (argc == 4 && std::string(argv[2]) == "--repeat") {
    repeatCount = std::stoi(argv[3]);
  } else if (argc != 2) {
    std::cerr << "usage: send_request COLLECTOR_SOCKET [--repeat N | --stream N LOW HIGH | "
                 "--route HOST NEW EXPECTED "
                 "[--family F] [--alternate N] | --live-switch HOST FROM TO [COUNT]]\n";
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
  if (streamCount > 0) {
    return stream(*client, args, streamCount, std::stoll(argv[4]), std::stoll(argv[5]));
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
