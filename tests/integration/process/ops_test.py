#!/usr/bin/env python3
"""Process-level tests of tailor-ops reprocess, diff, events and rebuild.

The shipped programs run as an operator runs them: devbroker, loadgen, the
personalizer (--time_source=event) and tailor-ops, checked from outside
(exit codes, output, files, and the topics read with confluent_kafka).

  ReprocessTest   loadgen input on the broker, the personalizer processes
                  it; `reprocess` of the same range from an empty state gives
                  exactly the decisions the personalizer produced (byte for
                  byte, and `diff` against the topics exits 0); two runs give
                  the same bytes; an exported events file gives the same
                  decisions as the topics. More input: `reprocess
                  --from_state=<live state> --from=state` gives what the
                  restarted personalizer gives for it, and leaves the live
                  state untouched; a copy taken beside the running
                  personalizer works. `rebuild` refuses while the
                  personalizer runs, then finds nothing to change;
                  a stale profile put on the changelog is republished by
                  `--execute` and the personalizer restores it. Prints the
                  reprocess rate and the live pipeline's rate on the same
                  input, and their ratio.
  DiffTest        one injected rule change (variant B of first_order: 15% ->
                  20%): `diff` reports exactly the decisions it changes and
                  nothing else; exit 1, and 0 for a file against itself;
                  `--to_topics` writes prefixed topics only.
  EventsTest      `events export` then `events import --topic_prefix` copies
                  every record (undecodable ones too) byte for byte:
                  partition, key, value, headers, timestamp.
  BadArgumentsTest  bad arguments exit 2 with a message naming the flag.

    ops_test.py --ops=BIN --personalizer=BIN --devbroker=BIN --loadgen=BIN \
        --pydir=DIR --source_dir=REPO [unittest arguments, e.g. DiffTest]
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import PDEATHSIG, shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DECISION_TOPICS, DECISIONS_LOG_TOPIC, INPUT_TOPICS, OUTCOMES_TOPIC,
    SHORT_SESSION, ProcessTestCase, records_taken)

OPS = None  # The tailor-ops binary (--ops), set in main().
decision_pb2 = None  # tailor.v1 modules, imported in main().
profile_pb2 = None

OPS_TIMEOUT_S = 120
REPROCESS_LINE = re.compile(r"^reprocess: .*events_per_s=(\d+)", re.M)


def read_delimited(path):
  """The decisions of a length-delimited file as [bytes], in file order."""
  with open(path, "rb") as f:
    data = f.read()
  out, i = [], 0
  while i < len(data):
    length, shift = 0, 0
    while True:
      b = data[i]
      i += 1
      length |= (b & 0x7f) << shift
      shift += 7
      if not b & 0x80:
        break
    out.append(data[i:i + length])
    i += length
  return out


def by_id(values):
  out = {}
  for v in values:
    d = decision_pb2.Decision()
    d.ParseFromString(v)
    out[d.decision_id] = v
  return out


class OpsCase(ProcessTestCase):
  """Runs tailor-ops against this test's broker."""

  def ops(self, *args, expect=0, kafka=True):
    """Runs tailor-ops with `args` (and this test's broker and group) and
    checks its exit status unless `expect` is None."""
    argv = [*PDEATHSIG, OPS, *args]
    if kafka and self.bootstrap_file:
      argv.insert(len(PDEATHSIG) + 2, f"--bootstrap_file={self.bootstrap_file}")
    env = dict(os.environ, TAILOR_GROUP_ID="tailor-test")
    p = subprocess.run(argv, cwd=self.workdir, capture_output=True, text=True,
                       timeout=OPS_TIMEOUT_S, check=False, env=env)
    if expect is not None:
      self.assertEqual(
          p.returncode, expect,
          f"{' '.join(args)}: exit {p.returncode}\nstdout:\n{p.stdout[-3000:]}"
          f"\nstderr:\n{p.stderr[-3000:]}")
    return p

  def path(self, name):
    return os.path.join(self.workdir, name)

  def load(self, count, *flags):
    """loadgen's shop (3000 customers, hours of shop time in a second) put
    on the broker as fast as it goes; later flags override."""
    return self.run_loadgen(f"--count={count}", "--rate=0",
                            "--customers=3000", "--time_scale=50000",
                            f"--start_ms={shop_start_ms()}", *flags)


class ReprocessTest(OpsCase):

  def decisions_on_topics(self):
    return by_id(m.value()
                 for msgs in self.read_topics([DECISIONS_LOG_TOPIC]).values()
                 for m in msgs)

  def assert_same_decisions(self, live, reprocessed):
    """Every decision the topics carried, with the same bytes; and no SEND
    that the topics should have carried but did not."""
    self.assertGreater(len(live), 100, "too few decisions to compare")
    for decision_id, value in live.items():
      self.assertIn(decision_id, reprocessed)
      self.assertEqual(reprocessed[decision_id], value, decision_id)
    sent = {d for d, v in reprocessed.items()
            if decision_pb2.Decision.FromString(v).action ==
            decision_pb2.DECISION_ACTION_SEND}
    self.assertEqual(sent - set(live), set())

  def test_reprocess_gives_the_live_decisions(self):
    self.start_broker(partitions=8)
    # Yesterday's shop (less than a day of shop time even if loadgen is
    # slow), then, below, more of today's: the second part comes after the
    # first in event time.
    day_ms = 24 * 3600 * 1000
    total = self.load(120000, "--time_scale=20000",
                      f"--start_ms={shop_start_ms() - day_ms}")["produced"]
    state = self.path("state")

    # Live: everything is on the broker before the personalizer starts.
    # Its rate: records taken between the first sample that shows progress
    # and the end, over the time between (startup and group join excluded).
    personalizer = self.start_personalizer(SHORT_SESSION)
    first = self.wait_until(
        lambda: ((time.monotonic(), taken) if
                 (taken := records_taken(personalizer.port)) > 0 else None),
        "the personalizer to take its first records",
        alive=[personalizer])
    self.wait_processed(personalizer, total)
    live_rate = (total - first[1]) / max(time.monotonic() - first[0], 1e-3)
    # rebuild --execute refuses while the group has a member (or, on the
    # embedded broker, which cannot describe groups, unless told that the
    # personalizers are stopped).
    refused = self.ops("rebuild", "--execute", expect=None)
    self.assertEqual(refused.returncode, 3, refused.stderr)
    self.assertIn("tailor-test", refused.stderr)
    self.assertIn("active members", refused.stderr)
    self.stop_personalizer(personalizer)
    live = self.decisions_on_topics()

    # The same range from an empty state: the same decisions, the same
    # bytes twice; diff against the topics finds nothing.
    runs = [
        self.ops("reprocess", f"--out={self.path(f'r{n}.pb')}",
                 "--format=delimited").stdout for n in (1, 2)
    ]
    with open(self.path("r1.pb"), "rb") as f1, open(self.path("r2.pb"),
                                                    "rb") as f2:
      r1 = f1.read()
      self.assertEqual(r1, f2.read(), "two runs, different bytes")
    self.assert_same_decisions(live, by_id(read_delimited(self.path("r1.pb"))))
    diff = self.ops("diff", self.path("r1.pb"))
    self.assertIn("only in A: 0   only in B: 0   changed: 0", diff.stdout)

    # An exported events file gives the same decisions as the topics.
    self.ops("events", "export", f"--out={self.path('events.ndjson')}")
    self.ops("reprocess", f"--events_file={self.path('events.ndjson')}",
             f"--out={self.path('from-file.pb')}", "--format=delimited",
             kafka=False)
    with open(self.path("from-file.pb"), "rb") as f:
      self.assertEqual(f.read(), r1)

    # More input, today. From a copy of the live state, as the personalizer
    # left it, reprocess gives what the personalizer then gives for the new
    # input (caps, cooldowns, timers carried over).
    listing = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                     for e in os.scandir(state))
    more = self.load(30000, "--seed=2")
    self.ops("reprocess", f"--from_state={state}", "--from=state",
             f"--out={self.path('more.pb')}", "--format=delimited")
    self.assertEqual(
        sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
               for e in os.scandir(state)), listing,
        "--from_state wrote to the live state")
    personalizer = self.start_personalizer(SHORT_SESSION)
    self.wait_processed(personalizer, more["produced"])
    # Written: the group's offsets follow the written state.
    self.wait_until(
        lambda: self.committed_records("tailor-test") >= total +
        more["produced"], "the group to commit every record",
        alive=[personalizer])
    # A copy taken beside the running personalizer (which holds the lock)
    # stands where it does: nothing left to reprocess.
    beside = self.ops("reprocess", f"--from_state={state}", "--from=state",
                      f"--out={self.path('none.pb')}")
    self.assertIn("reprocess: events=0 ", beside.stdout)
    self.stop_personalizer(personalizer)
    later = {d: v for d, v in self.decisions_on_topics().items()
             if d not in live}
    self.assert_same_decisions(later,
                               by_id(read_delimited(self.path("more.pb"))))

    # The same fold rebuilds the same profiles: nothing to publish but each
    # partition's checkpoint.
    report = json.loads(self.ops("rebuild", "--json").stdout)
    self.assertEqual((report["changed"], report["new"], report["tombstones"]),
                     (0, 0, 0), report)
    self.assertGreater(report["unchanged"], 1000, report)

    def changelog():
      msgs = self.read_topics(["tailor.profiles.changelog"])[
          "tailor.profiles.changelog"]
      return len(msgs), sum(m.key() == b"\0tailor.checkpoint" for m in msgs)

    records, checkpoints = changelog()
    self.ops("rebuild", "--execute", "--assume_stopped")
    self.assertEqual(changelog(), (records + 8, checkpoints + 8))

    # A profile on the changelog that the input does not give (as after a
    # change of the fold): the dry run names it, --execute publishes the
    # rebuilt one, and then nothing is left to change.
    latest = {}
    for m in self.read_topics(["tailor.profiles.changelog"])[
        "tailor.profiles.changelog"]:
      latest[m.key()] = m
    key, m = next((k, m) for k, m in sorted(latest.items())
                  if not k.startswith(b"\0") and m.value())
    stale = profile_pb2.CustomerProfile.FromString(m.value())
    stale.ClearField("pending_timers")
    stale.ClearField("campaigns")
    stale.ClearField("channel_stats")
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap})
    producer.produce("tailor.profiles.changelog", key=key,
                     value=stale.SerializeToString(), partition=m.partition())
    self.assertEqual(producer.flush(30), 0)
    report = json.loads(self.ops("rebuild", "--json").stdout)
    self.assertEqual((report["changed"], report["new"], report["tombstones"]),
                     (1, 0, 0), report)
    self.assertEqual(report["sample"][0]["customer_id"], key.decode())
    self.ops("rebuild", "--execute", "--assume_stopped")
    republished = [
        x for x in self.read_topics(["tailor.profiles.changelog"])[
            "tailor.profiles.changelog"] if x.key() == key
    ][-1]
    self.assertEqual(republished.value(), m.value())
    report = json.loads(self.ops("rebuild", "--json").stdout)
    self.assertEqual(report["changed"], 0, report)
    # The personalizer restores the published tail at its next start.
    personalizer = self.start_personalizer(SHORT_SESSION)
    self.wait_ready(personalizer)
    self.assertIn("restoring partition", personalizer.stderr())
    self.stop_personalizer(personalizer)

    rate = int(REPROCESS_LINE.search(runs[0]).group(1))
    sys.stderr.write(
        f"\nreprocess: {rate} events/s; live pipeline: {live_rate:.0f} "
        f"events/s on the same {total} records; ratio {rate / live_rate:.2f}\n")


class DiffTest(OpsCase):

  def test_diff_finds_exactly_the_rule_change(self):
    whatif = [f"whatif.{t}" for t in
              (DECISIONS_LOG_TOPIC,) + DECISION_TOPICS +
              (OUTCOMES_TOPIC, "tailor.audit", "tailor.dlq")]
    self.start_broker(partitions=2, extra_topics=whatif)
    self.load(20000)
    example = os.path.join(ARGS.source_dir, "libs", "decide",
                           "rules.example.yaml")
    with open(example) as f:
      rules = f.read()
    old = "      - {name: B, weight: 50, percent_off: 15}"
    self.assertIn(old, rules, "rules.example.yaml changed; update me")
    changed_rules = self.path("rules-b.yaml")
    with open(changed_rules, "w") as f:
      f.write(rules.replace(old, "      - {name: B, weight: 50, "
                            "percent_off: 20}"))
    self.ops("reprocess", f"--rules={example}", f"--out={self.path('a.ndjson')}")
    # Also to prefixed topics, only when asked; diff reads them back.
    self.ops("reprocess", f"--rules={changed_rules}",
             f"--out={self.path('b.ndjson')}", "--to_topics=whatif.")
    self.ops("diff", self.path("b.ndjson"), "--actions=all",
             f"--topics={whatif[0]}")
    self.assertEqual(
        sum(len(v) for v in self.read_topics(
            DECISION_TOPICS + (DECISIONS_LOG_TOPIC,)).values()), 0,
        "reprocess wrote to the live decision topics")

    same = self.ops("diff", self.path("a.ndjson"), self.path("a.ndjson"),
                    "--json", kafka=False)
    self.assertEqual(json.loads(same.stdout)["changed"], [])

    p = self.ops("diff", self.path("a.ndjson"), self.path("b.ndjson"),
                 "--json", "--sample=3", expect=1, kafka=False)
    report = json.loads(p.stdout)
    self.assertEqual(report["only_in_a"], [])
    self.assertEqual(report["only_in_b"], [])
    self.assertEqual(report["customers_gained"], [])
    self.assertEqual(report["customers_lost"], [])
    for row in report["counts"]:
      self.assertEqual(row["a"], row["b"], row)
    # Exactly the decisions of variant B of first_order changed.
    expected = set()
    with open(self.path("a.ndjson")) as f:
      for line in f:
        d = json.loads(line)
        if d.get("campaign") == "first_order" and d.get("variant") == "B":
          expected.add(d["decision_id"])
    self.assertTrue(expected, "no first_order B decisions in the input")
    self.assertEqual(set(report["changed"]), expected)
    for row in report["sample"]:
      self.assertEqual(row["a"]["coupon"]["percent_off"], 15, row)
      self.assertEqual(row["b"]["coupon"]["percent_off"], 20, row)

    table = self.ops("diff", self.path("a.ndjson"), self.path("b.ndjson"),
                     expect=1, kafka=False)
    self.assertIn(f"changed: {len(expected)}", table.stdout)


class EventsTest(OpsCase):

  def test_export_import_round_trip(self):
    copies = [f"copy.{t}" for t in INPUT_TOPICS]
    self.start_broker(partitions=2, extra_topics=copies)
    load = self.load(5000, "--malformed_percent=2")
    self.assertGreater(load["malformed"], 0)

    events = self.path("events.ndjson")
    self.ops("events", "export", f"--out={events}")
    with open(events) as f:
      lines = [json.loads(l) for l in f]
    self.assertEqual(len(lines), load["produced"])
    self.assertTrue(any("value" in l for l in lines),
                    "no undecodable record exported as bytes")
    self.assertTrue(any("event" in l for l in lines))

    dry = self.ops("events", "import", events, "--topic_prefix=copy.",
                   "--dry_run")
    self.assertIn("would produce", dry.stdout)
    self.assertEqual(
        sum(len(v) for v in self.read_topics(copies).values()), 0)
    self.ops("events", "import", events, "--topic_prefix=copy.")

    def records(topics, strip=""):
      out = []
      for topic, msgs in self.read_topics(topics).items():
        for m in msgs:
          out.append((topic[len(strip):], m.partition(), m.key(), m.value(),
                      tuple(m.headers() or ()), m.timestamp()[1]))
      return sorted(out, key=repr)

    self.assertEqual(records(copies, strip="copy."), records(INPUT_TOPICS))


class BadArgumentsTest(OpsCase):

  def test_bad_arguments_exit_2(self):
    nonempty = self.path("nonempty")
    os.makedirs(nonempty)
    with open(os.path.join(nonempty, "x"), "w") as f:
      f.write("x")
    cases = [
        (["reprocess"], "--out=FILE"),
        (["reprocess", "--out=x", "--from=yesterday"], "--from"),
        (["reprocess", "--out=x", "--format=xml"], "--format"),
        (["reprocess", "--out=x", "--events_file=e", "--rules=missing.yaml"],
         "missing.yaml"),
        (["reprocess", "--out=x", "--events_file=e", f"--state_dir={nonempty}"],
         "--state_dir"),
        (["reprocess", "--out=x", "--no_such_flag=1"], "--no_such_flag"),
        (["reprocess", "--out=x", "--events_file=e", "--partitions=1"],
         "--events_file"),
        (["reprocess", "--out=x", "--sample=3"], "--sample"),
        (["diff"], "decision file"),
        (["diff", "missing-a.ndjson", "missing-b.ndjson"], "missing-a.ndjson"),
        (["diff", "a", "b", "--actions=some"], "--actions"),
        (["events"], "export or import"),
        (["events", "import"], "FILE"),
        (["rebuild", "--execute", "--dry_run"], "--execute"),
        (["nonsense"], "nonsense"),
    ]
    for args, needle in cases:
      p = self.ops(*args, expect=2, kafka=False)
      self.assertIn(needle, p.stderr, f"{args}: {p.stderr}")
    for sub in ("reprocess", "diff", "events", "rebuild"):
      p = self.ops(sub, "--help", kafka=False)
      self.assertIn(f"Usage: tailor-ops {sub}", p.stdout)


def main():
  global OPS, ARGS, decision_pb2, profile_pb2
  argv = [a for a in sys.argv if not a.startswith("--ops=")]
  ops = [a for a in sys.argv if a.startswith("--ops=")]
  if not ops:
    sys.exit(f"{sys.argv[0]}: --ops=<tailor-ops binary> is required")
  OPS = os.path.abspath(ops[0].split("=", 1)[1])
  sys.argv = argv
  argv = tailor_process_case.parse_command_line(__doc__.splitlines()[0])
  ARGS = tailor_process_case.ARGS
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as decisions, profile_pb2 as profiles
  decision_pb2, profile_pb2 = decisions, profiles
  unittest.main(argv=argv, verbosity=2)


ARGS = None

if __name__ == "__main__":
  main()
