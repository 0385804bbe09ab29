// The actuator's two privileged helpers (netns opener, privileged writer) as a service of their
// own. Under systemd the actuator runs as user bpftune with CAP_NET_ADMIN from exec on, so it
// cannot fork helpers that hold more than it does: bpftune-helpers.service holds CAP_SYS_ADMIN,
// CAP_SYS_PTRACE and CAP_NET_ADMIN instead, forks the pair exactly as the root-started actuator
// does, and hands the actuator's two channel ends to the first peer that connects with its own
// uid. Then it waits; when the actuator goes away the helpers see their channels close and exit,
// and so does this daemon (the unit restarts it for the next actuator). Nothing is parsed but the
// peer's credentials.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <optional>
#include <string>

#include "jail.h"
#include "netns_opener.h"
#include "options.h"
#include "priv_writer.h"
#include "result.h"

namespace bpftune::actuator {

struct AdoptedHelpers {
  NetnsOpener opener;
  PrivWriter writer;
};

// The root-started actuator's way: fork both helpers (identity as for dropPrivileges).
Result<AdoptedHelpers> spawnHelpers(std::optional<Identity> identity);

// The helpers daemon (--serve-helpers): returns its exit status. It stops waiting for a peer
// once *stop (set by the caller's SIGTERM handler) is nonzero.
int serveHelpers(const Options& options, const volatile sig_atomic_t* stop);

// In the actuator (--helpers-socket): connects to the helpers daemon, waiting up to
// `waitMs` for its socket, checks it runs as our uid, and takes the two channels.
Result<AdoptedHelpers> adoptHelpers(const std::string& socketPath, int waitMs);

// What the daemon sends with the two descriptors (opener channel, writer channel).
struct HelperHandover {
  int32_t openerPid = 0;
  int32_t writerPid = 0;
};

}  // namespace bpftune::actuator
