#!/usr/bin/env bash
# The audit trail in a real journald: systemd-journald of our own in a private mount namespace
# (tmpfs over /run/systemd and /run/log, so the host's journal is never touched), the real jailed
# actuator beside it, one request from netns A. journalctl must then show every journal record
# with its stable MESSAGE_ID and fields, in agreement with `bpftune journal --json`, sent by the
# actuator itself (_PID, _UID are journald's, not ours), and the last BPFTUNE_CHAIN_HASH must be
# the head `bpftune verify --head` prints. Then journald is killed under the running actuator:
# the next request must still be applied (the copy is lost and warned about, never fatal).
# Also exercises `bpftune journal --since/--tuner/--netns` on the real journal.
if [ -z "${AUDIT_PRIVATE_MOUNTS:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    exec unshare --mount --propagation private env AUDIT_PRIVATE_MOUNTS=1 bash "$0" "$@"
  fi
fi
source "$(dirname "$0")/lib.sh"
: "${SEND_REQUEST:?SEND_REQUEST not set}"

require_env
[ -n "${AUDIT_PRIVATE_MOUNTS:-}" ] || skip "needs unshare --mount (util-linux) as root"
JOURNALD=/lib/systemd/systemd-journald
[ -x "$JOURNALD" ] || skip "no $JOURNALD (package systemd)"
command -v journalctl >/dev/null || skip "missing tool: journalctl"
command -v setpriv >/dev/null || skip "missing tool: setpriv"
[ -x "$SEND_REQUEST" ] || fail "not built: $SEND_REQUEST"

mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/log
mkdir /run/systemd/journal
setup_pair
install -m 0755 "$SEND_REQUEST" "$WORK/send_request"

JD_PID=""
stop_journald() {
  [ -n "$JD_PID" ] || return 0
  kill "$JD_PID" 2>/dev/null || true
  wait "$JD_PID" 2>/dev/null || true
  JD_PID=""
}
# cleanup (lib.sh) reads the exit status first: hand it the test's.
trap 'rc=$?; set +e; stop_journald; (exit $rc); cleanup' EXIT

"$JOURNALD" >"$WORK/journald.log" 2>&1 &
JD_PID=$!
for _ in $(seq 1 100); do
  [ -S /run/systemd/journal/socket ] && break
  sleep 0.02
done
[ -S /run/systemd/journal/socket ] || fail "journald did not create its socket"
note "private systemd-journald $JD_PID"

send_request() {
  SEND_RC=0
  in_a setpriv --reuid bpftune-collector --regid bpftune-collector --clear-groups \
    "$WORK/send_request" "$RUN_DIR/actuator.sock" >"$WORK/$1.out" 2>&1 || SEND_RC=$?
}

start_actuator
grep -q "audit trail: every journal record also goes to journald" "$WORK/actuator.log" ||
  fail "the actuator did not pick journald"
send_request first
grep -q "reply: status=ok " "$WORK/first.out" || { cat "$WORK/first.out"; fail "request not ok"; }

"$BPFTUNE" journal --json --state-dir "$STATE_DIR" >"$WORK/journal.json" || fail "journal --json"
"$BPFTUNE" verify --head --state-dir "$STATE_DIR" >"$WORK/head.out" || fail "verify --head"
HEAD_LINE=$(grep "^head: " "$WORK/head.out") || { cat "$WORK/head.out"; fail "no head line"; }
note "$HEAD_LINE"

# journald writes its files as entries arrive; wait until the outcome's entry is readable.
JOURNALCTL=(journalctl -D /run/log/journal --no-pager -o json SYSLOG_IDENTIFIER=bpftune-actuator)
for _ in $(seq 1 50); do
  "${JOURNALCTL[@]}" >"$WORK/journald.json" 2>/dev/null || true
  grep -q '"BPFTUNE_KIND":"outcome"' "$WORK/journald.json" && break
  sleep 0.05
done

ACT_UID=$(id -u bpftune)
COL_UID=$(id -u bpftune-collector)
python3 - "$WORK/journal.json" "$WORK/journald.json" "$HEAD_LINE" "$ACT_PID" "$ACT_UID" \
  "$COL_UID" <<'PY' || fail "journald entries do not match the journal"
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
entries = [json.loads(l) for l in open(sys.argv[2])]
head, act_pid, act_uid, col_uid = sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ids = {"start": "1f12f9645de041ee8e082ca7595c034b", "intent": "46b7c39611b648e4801b8952ab7616d9",
       "applied": "06f864c1e94340ed856c85cb9734f03a"}
def bad(msg):
    print("FAIL:", msg); sys.exit(1)
started = [e for e in entries if e.get("MESSAGE_ID") == "5a5520b6654e4479ad9d8cd2b674e546"]
if len(started) != 1: bad(f"{len(started)} audit-started entries")
by_seq = {int(e["BPFTUNE_SEQ"]): e for e in entries if "BPFTUNE_SEQ" in e}
if sorted(by_seq) != [r["seq"] for r in records]:
    bad(f"journald has seqs {sorted(by_seq)}, journal {[r['seq'] for r in records]}")
for r in records:
    e = by_seq[r["seq"]]
    # Trusted fields, set by journald from the socket's credentials. The start record is sent
    # before the actuator drops root; everything after it as user bpftune.
    want_uid = "0" if r["kind"] == "start" else act_uid
    if e["_PID"] != act_pid or e["_UID"] != want_uid:
        bad(f"seq {r['seq']} sent by pid {e['_PID']} uid {e['_UID']}")
    if e["BPFTUNE_KIND"] != r["kind"]: bad(f"seq {r['seq']} kind {e['BPFTUNE_KIND']}")
    key = r["result"] if r["kind"] == "outcome" else r["kind"]
    if e["MESSAGE_ID"] != ids[key]: bad(f"seq {r['seq']} MESSAGE_ID {e['MESSAGE_ID']}")
    if r["kind"] == "start":
        continue
    for field, want in (("BPFTUNE_TUNER", r["tuner"]), ("BPFTUNE_TUNABLE", r["tunable"]),
                        ("BPFTUNE_SCENARIO", r["scenario"]),
                        ("BPFTUNE_NETNS_COOKIE", str(r["netnsCookie"])),
                        ("BPFTUNE_OLD", " ".join(map(str, r["old"]))),
                        ("BPFTUNE_NEW", " ".join(map(str, r["new"]))),
                        ("BPFTUNE_REQUESTER_UID", col_uid),
                        ("BPFTUNE_REQUESTER_PID", str(r["requesterPid"]))):
        if e.get(field) != want: bad(f"seq {r['seq']} {field}={e.get(field)!r}, expected {want!r}")
    if r["kind"] == "outcome" and (e["BPFTUNE_OUTCOME"] != "applied" or
                                   e["BPFTUNE_INTENT_SEQ"] != str(r["intentSeq"])):
        bad(f"outcome fields {e}")
last = by_seq[max(by_seq)]
if head != f"head: seq={max(by_seq)} sha256={last['BPFTUNE_CHAIN_HASH']}":
    bad(f"verify says '{head}', journald's last hash is {last['BPFTUNE_CHAIN_HASH']}")
print(f"--- journald: {len(by_seq)} records, MESSAGE_IDs and fields match, head anchored")
PY

# The filters on the real journal: start(1), intent(2), outcome(3).
count() { "$BPFTUNE" journal --state-dir "$STATE_DIR" "$@" | wc -l; }
[ "$(count)" = 3 ] || fail "unfiltered journal: $(count) records"
[ "$(count --tuner tcp_buffer)" = 2 ] || fail "--tuner tcp_buffer: $(count --tuner tcp_buffer)"
[ "$(count --tuner neigh_table)" = 0 ] || fail "--tuner neigh_table matched"
[ "$(count --netns "$NS_A" --since 10m --json)" = 2 ] || fail "--netns $NS_A --since 10m"
[ "$(count --since "@$(( $(date +%s) + 60 ))")" = 0 ] || fail "--since in the future matched"
rc=0
"$BPFTUNE" journal --state-dir "$STATE_DIR" --since yesterday 2>"$WORK/since.err" || rc=$?
[ "$rc" = 2 ] && grep -q "since: 'yesterday'" "$WORK/since.err" || fail "bad --since: exit $rc"
rc=0
"$BPFTUNE" journal --state-dir "$STATE_DIR" --netns no-such-ns 2>"$WORK/netns.err" || rc=$?
[ "$rc" = 2 ] && grep -q "no namespace named 'no-such-ns'" "$WORK/netns.err" ||
  fail "bad --netns: exit $rc"
note "journal filters: --tuner, --netns NAME, --since (relative, @epoch), bad values exit 2"

# journald gone under the running actuator: the next change is still applied and journaled.
stop_journald
send_request second
grep -q "reply: status=ok " "$WORK/second.out" || { cat "$WORK/second.out"; fail "request after journald died"; }
kill -0 "$ACT_PID" || fail "the actuator died with journald"
grep -q "audit trail: could not copy a journal record" "$WORK/actuator.log" ||
  fail "the lost copy was not warned about"
stop_daemons
assert_verify
[ "$(count)" = 5 ] || fail "journal after journald died: $(count) records, expected 5"
note "PASS: journald entries match the journal; journald's death costs copies, not changes"
