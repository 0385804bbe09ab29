@0xd6a3f1c2b5e47a91;
# Wire and journal schema between the collector, the actuator and the admin CLI.
#
# Pointer-minimal on purpose: requests use groups (inline, no pointers) and fixed-width integers,
# so the actuator's reader only ever follows the root pointer. The wire never carries sysctl names
# or paths: the actuator maps TunableId to a path from its compiled-in table.

$import "/capnp/c++.capnp".namespace("bpftune::proto");

enum TunableId {
  tcpRmem @0;            # net.ipv4.tcp_rmem (3 values, per netns)
  tcpWmem @1;            # net.ipv4.tcp_wmem (3 values, per netns)
  tcpMem @2;             # net.ipv4.tcp_mem (3 values, pages, init netns only)
  tcpModerateRcvbuf @3;  # net.ipv4.tcp_moderate_rcvbuf (1 value, per netns)
  tcpNoMetricsSave @4;          # net.ipv4.tcp_no_metrics_save (per netns)
  tcpNoSsthreshMetricsSave @5;  # net.ipv4.tcp_no_ssthresh_metrics_save (per netns)
  highOrderAllocDisable @6;     # net.core.high_order_alloc_disable (init netns only)
  tcpSyncookies @7;             # net.ipv4.tcp_syncookies (0, 1 or 2, per netns)
  tcpMaxSynBacklog @8;          # net.ipv4.tcp_max_syn_backlog (per netns)
  neighArpGcThresh @9;          # gc_thresh1/2/3 of the arp table (3 values; rtnetlink, init netns)
  neighNdiscGcThresh @10;       # gc_thresh1/2/3 of the ndisc table (3 values; rtnetlink, init netns)
  netdevMaxBacklog @11;         # net.core.netdev_max_backlog (init netns only)
  flowLimitCpuBitmap @12;       # net.core.flow_limit_cpu_bitmap (CPU mask, init netns only)
  netdevBudget @13;             # net.core.netdev_budget (init netns only)
  netdevBudgetUsecs @14;        # net.core.netdev_budget_usecs (init netns only)
  ipfragHighThresh @15;         # net.ipv4.ipfrag_high_thresh (bytes, per netns)
  ip6fragHighThresh @16;        # net.ipv6.ip6frag_high_thresh (bytes, per netns)
  udpMem @17;                   # net.ipv4.udp_mem (3 values, pages, init netns only)
  rmemMax @18;                  # net.core.rmem_max (bytes; writable in the init netns only: other
                                #   namespaces show the same value read-only, and use it)
  rmemDefault @19;              # net.core.rmem_default (bytes; as rmem_max)
  routeCongctl @20;             # congestion control for new connections to one host: bpftune's own
                                #   /32 or /128 route carrying the congctl metric (one value, a
                                #   CongAlg; none = no route of ours). Per netns, keyed by host.
  socketCongctl @21;            # a live connection switched in place (journal only: the collector's
                                #   BPF iterator switched it and reports it; never written here)
}

# Congestion control algorithms, as values of routeCongctl/socketCongctl. Closed: the wire never
# carries an algorithm name.
enum CongAlg {
  none @0;   # routeCongctl: no route of bpftune's for the host (the namespace default applies)
  reno @1;
  cubic @2;
  bbr @3;
  htcp @4;
  dctcp @5;  # only on paths that negotiated ECN
}

enum TunerId {
  tcpBuffer @0;
  admin @1;              # changes the administrator asked for (rollback)
  actuator @2;           # changes the actuator made on its own (crash recovery)
  neighTable @3;
  netBuffer @4;
  ipFrag @5;
  udpBuffer @6;
  tcpConn @7;
  plugin @8;             # a tuner loaded from the plugin directory (include/bpftune/plugin.h)
}

enum ScenarioId {
  bufferIncrease @0;         # need to increase TCP buffer size(s) to maximize throughput
  bufferDecrease @1;         # need to decrease TCP buffer size(s) to avoid memory exhaustion
  bufferDecreaseLatency @2;  # buffer growth correlates with smoothed RTT: shrink
  memPressure @3;            # approaching TCP memory pressure
  memExhaustion @4;          # approaching TCP memory exhaustion
  moderateRcvbufEnable @5;   # match receive buffer size with throughput needs
  rollback @6;               # restore the value from before bpftune's first change
  recovery @7;               # resolve an intent left without outcome by a crash
  # tcp_buffer: low memory and SYN floods
  lowMemEnter @8;            # set tunable on entering low-memory state
  lowMemLeave @9;            # unset tunable set earlier in low-memory state
  synBacklogIncrease @10;    # SYN-ACK retransmits correlate with accepted connections: grow
  synBacklogDecrease @11;    # retransmits without accepted connections (flood): shrink
  syncookiesEnable @12;      # under low memory further backlog growth does not help
  syncookiesDisable @13;     # syncookies fail (>= 1024 failed, 0 good): they are ineffective
  # neigh_table
  neighTableFull @14;        # neighbour table nearly full: grow gc_thresh1/2/3
  neighTableEmpty @15;       # neighbour table nearly empty: shrink toward kernel defaults
  # net_buffer
  netdevBacklogIncrease @16; # CPU backlog drops: grow netdev_max_backlog
  flowLimitCpuSet @17;       # set the dropping CPU's bit in flow_limit_cpu_bitmap
  netdevBudgetIncrease @18;  # NAPI polls exhaust their budget: grow budget and budget_usecs
  netdevBudgetDecrease @19;  # budget growth correlates with scheduler wait: shrink
  # ip_frag
  fragThreshIncrease @20;    # reassembly memory nears the high threshold: grow it
  fragThreshDecrease @21;    # reassembly failures correlate with growth (fragment flood): shrink
  # udp_buffer
  udpBufferIncrease @22;     # receive buffer drops near rmem_max / rmem_default: grow
  udpMemPressure @23;        # UDP memory near udp_mem[1]
  udpMemExhaustion @24;      # UDP memory near udp_mem[2]
  # tcp_conn (routeCongctl; socketCongctl for the live switch)
  congctlExplore @25;        # try an untried (or, with probability epsilon, a random) algorithm
  congctlSelect @26;         # the learned best algorithm for the host (none: the default is best)
  congctlLoss @27;           # retransmits above 1/64 of segments sent: prefer bbr for the host
  congctlLiveSwitch @28;     # a live connection in distress was switched to bbr in place
  # actuator: bpftune's host routes after the administrator changed their covering route
  routeFollow @29;           # bpftune's host route follows the covering route, or is withdrawn
  # plugins: one scenario for every plugin (its name and reason are in the collector's log)
  pluginProposal @30;        # a plugin tuner proposed a change
}

struct Request {
  id @0 :UInt64;             # echoed in the reply
  union {
    setSysctl :group {
      tuner @1 :TunerId;
      scenario @2 :ScenarioId;
      netnsCookie @3 :UInt64;
      tunable @4 :TunableId;
      count @5 :UInt8;        # number of values (1 or 3); must match the tunable
      expected0 @6 :Int64;    # values the requester read and expects to replace
      expected1 @7 :Int64;
      expected2 @8 :Int64;
      new0 @9 :Int64;         # values to write
      new1 @10 :Int64;
      new2 @11 :Int64;
      causeNetnsCookie @14 :UInt64;  # netns whose event caused it (0: netnsCookie itself); a
                                     # global tunable is written in the init netns for any cause
      hostFamily @28 :UInt8;     # routeCongctl: 2 (AF_INET) or 10 (AF_INET6); 0 for every other
      hostAddress0 @29 :UInt64;  #   tunable. The host: address bytes 0..7, big endian (IPv4:
      hostAddress1 @30 :UInt64;  #   bytes 0..3, the rest zero), and bytes 8..15
    }
    ping @12 :Void;           # liveness check; no side effect (the reply carries resumeEpoch)
    rollback @13 :Void;       # admin socket only: restore every original of this boot
    reportOverride :group {   # collector: someone else wrote a tunable a tuner manages
      tuner @15 :TunerId;
      netnsCookie @16 :UInt64;  # the writer's netns (where a per-netns tunable changed)
      tunable @17 :TunableId;
      writerPid @18 :Int32;
      writerUid @19 :UInt32;
      writerComm @20 :UInt64;   # up to 8 bytes of the writer's comm, little endian, NUL padded
      writerComm2 @21 :UInt64;  # bytes 8..15
      count @22 :UInt8;         # values parsed from what the writer wrote (0: unparsable)
      value0 @23 :Int64;
      value1 @24 :Int64;
      value2 @25 :Int64;
    }
    resume :group {           # admin socket only: hand control back after an override
      tuner @26 :TunerId;
      netnsCookie @27 :UInt64;  # 0: every namespace (also lifts a pause left by rollback)
    }
    applyProposal @42 :UInt64;  # admin socket only: apply the proposal journaled under this seq
                                # (advice mode) through the same validation and journal
    reportLiveSwitch :group { # collector: its BPF iterator switched a live connection in place
      tuner @31 :TunerId;
      netnsCookie @32 :UInt64;
      hostFamily @33 :UInt8;    # the connection's remote host, as in setSysctl
      hostAddress0 @34 :UInt64;
      hostAddress1 @35 :UInt64;
      fromAlg @36 :CongAlg;
      toAlg @37 :CongAlg;
      localPort @38 :UInt16;
      remotePort @39 :UInt16;
      retransmits @40 :UInt32;  # total_retrans and segs_out when it was switched
      segsOut @41 :UInt32;
    }
  }
}

enum Status {
  ok @0;          # applied and read back
  rejected @1;    # refused by validation or policy; see field/bound/reason
  overridden @2;  # live value differs from what bpftune last wrote: someone else changed it
  stale @3;       # live value differs from what the requester expected: read again
  failed @4;      # the write itself failed (errno in `error`), journaled as such
  paused @5;      # an administrator rolled back: no changes until `bpftune resume`
  gone @6;        # the network namespace no longer exists
  proposed @7;    # advice mode: valid, journaled as a proposal (journalSeq: its id), not written
}

struct Reply {
  id @0 :UInt64;
  status @1 :Status;
  field @2 :Text;       # request field a rejection is about (e.g. "new2", "tunable")
  bound @3 :Int64;      # the bound that was crossed, when there is one
  reason @4 :Text;      # human readable; names the field and the bound
  count @5 :UInt8;
  value0 @6 :Int64;     # live values after the request (or at refusal)
  value1 @7 :Int64;
  value2 @8 :Int64;
  journalSeq @9 :UInt64;  # sequence number of the OUTCOME record (0 when nothing was journaled)
  error @10 :Int32;       # errno of a failed write
  resumeEpoch @11 :UInt64;  # number of resume records this boot: a change means re-enable
  advising @12 :Bool;       # the actuator runs in advice mode: it proposes and writes nothing
}

enum RecordKind {
  intent @0;     # written and fdatasync'ed before the sysctl write
  outcome @1;    # result of the write, read back
  recovered @2;  # an intent of this boot found without outcome at start, resolved from the live value
  start @3;      # an actuator started (boot id, pid, seccomp digest)
  override @4;   # someone else changed a managed tunable: bpftune leaves it alone
  resume @5;     # an administrator handed control back (the live value becomes the baseline)
  liveSwitch @6; # the collector switched a live connection's congestion control (socketCongctl)
  proposal @7;   # advice mode: a valid change journaled instead of written; its seq is its id
}

enum OutcomeResult {
  applied @0;      # live value equals the requested value
  notApplied @1;   # live value equals the old value
  writeFailed @2;  # the write returned an error
  mismatch @3;     # live value is neither old nor new
  netnsGone @4;    # the network namespace vanished before or during the write
}

struct JournalRecord {
  seq @0 :UInt64;
  kind @1 :RecordKind;
  realtimeNs @2 :Int64;
  monotonicNs @3 :Int64;
  bootId @4 :Data;            # 16 bytes, /proc/sys/kernel/random/boot_id
  tuner @5 :TunerId;
  scenario @6 :ScenarioId;
  netnsCookie @7 :UInt64;
  tunable @8 :TunableId;
  count @9 :UInt8;
  old0 @10 :Int64;
  old1 @11 :Int64;
  old2 @12 :Int64;
  new0 @13 :Int64;
  new1 @14 :Int64;
  new2 @15 :Int64;
  requesterPid @16 :Int32;
  requesterUid @17 :UInt32;
  intentSeq @18 :UInt64;       # outcome/recovered: the intent it resolves
  result @19 :OutcomeResult;
  error @20 :Int32;            # errno for writeFailed
  actual0 @21 :Int64;          # live values read back
  actual1 @22 :Int64;
  actual2 @23 :Int64;
  actuatorPid @24 :Int32;      # start records
  filterDigest @25 :Data;      # start records: SHA-256 of the seccomp BPF program
  causeNetnsCookie @26 :UInt64;  # netns whose event caused the change (global tunables)
  netnsInode @27 :UInt32;        # inode of the netns (as `lsns`/`ip netns identify` show it)
  writerPid @28 :Int32;          # override records: who wrote (0: detected by compare-and-set)
  writerUid @29 :UInt32;
  writerComm @30 :Text;          # sanitized, at most 16 bytes
  overrideSource @31 :OverrideSource;
  # routeCongctl and socketCongctl: the remote host (as in Request.setSysctl)
  hostFamily @32 :UInt8;
  hostAddress0 @33 :UInt64;
  hostAddress1 @34 :UInt64;
  # routeCongctl: bpftune's host route and the nexthop it copied from the covering route (the
  # route the traffic used before), so rollback and an audit can see exactly what was routed
  routeTable @35 :UInt32;
  routeGateway0 @36 :UInt64;   # 0/0: on-link (no gateway)
  routeGateway1 @37 :UInt64;
  routeOif @38 :UInt32;
  routeIfname @39 :Text;
  routePrefsrc0 @40 :UInt64;
  routePrefsrc1 @41 :UInt64;
  routeCoveringLen @42 :UInt8; # prefix length of the covering route
  # socketCongctl (liveSwitch records): the connection
  socketLocalPort @43 :UInt16;
  socketRemotePort @44 :UInt16;
  socketRetransmits @45 :UInt32;
  socketSegsOut @46 :UInt32;
  # intent/outcome of `bpftune apply`: the proposal record (seq) this change applies
  proposalSeq @47 :UInt64;
}

enum OverrideSource {
  none @0;
  sysctlHook @1;      # the collector's cgroup/sysctl program saw the write
  compareAndSet @2;   # the live value differed from bpftune's last write
}
