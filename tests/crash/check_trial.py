#!/usr/bin/env python3
"""One crash trial's journal checks (crash_inject.sh), after the actuator restarted.

Usage: check_trial.py JOURNAL_JSON ACKS POINT LIVE_MAX
  JOURNAL_JSON  `bpftune journal --json` output, one record per line
  ACKS          the peer's output: "ack seq=S max=M" for every OK reply it received
  POINT         where the actuator was killed: before-write, after-write, outcome-unsynced,
                or anything else for a kill at a random time (no expectation on the last intent)
  LIVE_MAX      the live tcp_rmem max after the restart, or "-" (a collector may be changing it)
Fails (exit 1, reason on stderr) when an acknowledged change is missing or not applied in the
journal, an intent is unresolved or resolved twice, the last intent's resolution is not what
the kill point implies, or the live value disagrees with the journal's last word on it.
"""
import json
import sys

RESOLVING = ("outcome", "recovered")


def fail(message):
    print("check_trial: " + message, file=sys.stderr)
    sys.exit(1)


def main():
    journal_path, acks_path, point, live_max = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    records = [json.loads(line) for line in open(journal_path) if line.strip()]
    by_seq = {int(r["seq"]): r for r in records}
    for line in open(acks_path):
        if not line.startswith("ack "):
            continue
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        r = by_seq.get(int(fields["seq"]))
        if r is None or r["kind"] != "outcome" or r["result"] != "applied":
            fail("acknowledged seq %s is not an applied outcome in the journal: %s" % (fields["seq"], r))
        if int(r["new"][2]) != int(fields["max"]):
            fail("acknowledged seq %s journals max %s, the peer asked %s" % (fields["seq"], r["new"][2], fields["max"]))
    resolved = {}
    for r in records:
        if r["kind"] in RESOLVING:
            intent = int(r["intentSeq"])
            if intent in resolved:
                fail("intent %d resolved twice" % intent)
            resolved[intent] = r
    intents = [r for r in records if r["kind"] == "intent" and r["tunable"] == "net.ipv4.tcp_rmem"]
    for r in intents:
        if int(r["seq"]) not in resolved:
            fail("intent %s left unresolved after the restart" % r["seq"])
    if not intents:
        return
    last = resolved[int(intents[-1]["seq"])]
    expected = {"before-write": ("recovered", "notApplied"),
                "after-write": ("recovered", "applied"),
                "outcome-unsynced": ("outcome", "applied")}.get(point)
    if expected and (last["kind"], last["result"]) != expected:
        fail("killed at %s, the last intent resolved as %s %s, expected %s %s" %
             (point, last["kind"], last["result"], expected[0], expected[1]))
    if live_max != "-" and int(last["actual"][2]) != int(live_max):
        fail("live tcp_rmem max %s, the journal's last record says %s" % (live_max, last["actual"][2]))


if __name__ == "__main__":
    main()
