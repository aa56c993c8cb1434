#!/usr/bin/env python3
"""tailor-ops dlq, offsets, profile and export, through the shipped binaries
on the embedded broker.

    ops_admin_test.py --personalizer=BIN --devbroker=BIN --ops=BIN \
        --pydir=DIR [unittest arguments, e.g. DlqRedriveTest]
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DECISIONS_LOG_TOPIC, DLQ_TOPIC, DRAIN_TIMEOUT_S, SHORT_SESSION, STOP_TIMEOUT_S,
    ProcessTestCase, http_get, metrics)

events_pb2 = None  # imported in main()

GROUP = "tailor-ops-test"
CHANGELOG = "tailor.profiles.changelog"
REDRIVEN = "tailor.dlq.redriven"


def murmur2_partition(key, partitions):
  """Kafka's Java murmur2 partitioner, written here from the algorithm (an
  independent check of where tailor-ops puts a re-driven record)."""
  m, r, seed = 0x5bd1e995, 24, 0x9747b28c
  length = len(key)
  h = (seed ^ length) & 0xffffffff
  for i in range(0, length - length % 4, 4):
    k = int.from_bytes(key[i:i + 4], "little")
    k = (k * m) & 0xffffffff
    k ^= k >> r
    k = (k * m) & 0xffffffff
    h = (h * m) & 0xffffffff
    h ^= k
  rest = length % 4
  tail = key[length - rest:]
  if rest == 3:
    h ^= tail[2] << 16
  if rest >= 2:
    h ^= tail[1] << 8
  if rest >= 1:
    h ^= tail[0]
    h = (h * m) & 0xffffffff
  h ^= h >> 13
  h = (h * m) & 0xffffffff
  h ^= h >> 15
  return (h & 0x7fffffff) % partitions


class OpsTestCase(ProcessTestCase):

  def ops(self, *args, expect=0):
    """Runs tailor-ops against this test's broker; checks its exit status."""
    argv = [tailor_process_case.ARGS.ops, args[0]]
    if self.bootstrap_file is not None:
      argv.append(f"--bootstrap_file={self.bootstrap_file}")
    argv += [f"--kafka_property=client.id=ops-test", *args[1:]]
    env = dict(os.environ, TAILOR_GROUP_ID=GROUP)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                          env=env, cwd=self.workdir, check=False)
    if expect is not None:
      self.assertEqual(
          done.returncode, expect,
          f"{' '.join(argv)}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done

  def produce(self, topic, customer, event, partition=None, headers=None):
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap,
         "partitioner": "murmur2_random"})
    kwargs = {"key": customer.encode(), "value": event.SerializeToString(),
              "headers": headers or []}
    if partition is not None:
      kwargs["partition"] = partition
    producer.produce(topic, **kwargs)
    self.assertEqual(producer.flush(30), 0)

  def view(self, customer, t, event_id):
    return events_pb2.Event(customer_id=customer, event_id=event_id,
                            event_time_ms=t,
                            page_view=events_pb2.PageView(page_type="home"))


class DlqRedriveTest(OpsTestCase):
  """A record dead-lettered as misrouted (the producer used another
  partitioner) is re-driven to the partition its key hashes to, byte for
  byte with its own headers, gets processed, and a second re-drive does
  nothing."""

  def test_redrive_brings_the_original_through_once(self):
    self.start_broker(partitions=2)
    p = self.start_personalizer(
        SHORT_SESSION, group=GROUP,
        env_extra={"TAILOR_MISROUTED_EVENTS": "dead_letter"})
    self.wait_ready(p)
    customer = "c-misrouted-7"
    right = murmur2_partition(customer.encode(), 2)
    event = self.view(customer, shop_start_ms(), "e-1")
    self.produce("clickstream", customer, event, partition=1 - right,
                 headers=[("trace-id", b"abc-123")])
    self.wait_until(lambda: self.read_topics([DLQ_TOPIC])[DLQ_TOPIC],
                    "the dead letter", timeout=DRAIN_TIMEOUT_S, alive=[p])
    letter = self.read_topics([DLQ_TOPIC])[DLQ_TOPIC][0]

    listed = self.ops("dlq", "list").stdout
    self.assertRegex(listed, r"misrouted\s+clickstream\s+\S+\s+1\s+0")
    listed_json = json.loads(self.ops("dlq", "list", "--json").stdout)
    self.assertEqual([(g["error_class"], g["source_topic"], g["count"])
                      for g in listed_json], [("misrouted", "clickstream", 1)])

    shown = json.loads(
        self.ops("dlq", "show",
                 f"{letter.partition()}:{letter.offset()}").stdout)
    self.assertEqual(shown["error_class"], "misrouted")
    self.assertEqual(shown["source_topic"], "clickstream")
    self.assertEqual(shown["source_partition"], 1 - right)
    self.assertEqual(shown["original_event"]["customer_id"], customer)
    self.assertIn({"name": "trace-id", "value": "abc-123"}, shown["headers"])

    dry = self.ops("dlq", "redrive", "--dry_run").stdout
    self.assertIn("would re-drive 1 dead letters (clickstream: 1)", dry)
    before = self.read_topics(["clickstream"])["clickstream"]
    self.assertEqual(len(before), 1, "the dry run produced something")

    # A filter that matches nothing re-drives nothing.
    none = self.ops("dlq", "redrive", "--source_topic=orders").stdout
    self.assertIn("re-drove 0 dead letters", none)

    done = self.ops("dlq", "redrive", "--error_class=misrouted").stdout
    self.assertIn("re-drove 1 dead letters (clickstream: 1)", done)
    after = self.read_topics(["clickstream"])["clickstream"]
    self.assertEqual(len(after), 2)
    redriven = [m for m in after if m.partition() == right]
    self.assertEqual(len(redriven), 1, "not on the key's partition")
    self.assertEqual(redriven[0].key(), customer.encode())
    self.assertEqual(redriven[0].value(), event.SerializeToString())
    self.assertEqual(redriven[0].headers(), [("trace-id", b"abc-123")])

    # Processed this time: the profile exists and counts one event.
    self.wait_until(
        lambda: metrics(p.port).get("tailor_events_total", 0) >= 1,
        "the re-driven event to be folded", alive=[p])
    self.wait_until(lambda: self.committed_records(GROUP) >= 2,
                    "both records committed", timeout=DRAIN_TIMEOUT_S,
                    alive=[p])
    profile = json.loads(
        self.ops("profile", customer, "--from_changelog").stdout)
    self.assertEqual(profile["profile"]["events"], "1")

    again = self.ops("dlq", "redrive").stdout
    self.assertIn("re-drove 0 dead letters", again)
    self.assertIn("skipped 1 already re-driven", again)
    self.assertEqual(len(self.read_topics(["clickstream"])["clickstream"]), 2)
    self.assertEqual(len(self.read_topics([REDRIVEN])[REDRIVEN]), 1)


  def test_truncated_dead_letters_are_refused(self):
    self.start_broker(partitions=1)
    p = self.start_personalizer(SHORT_SESSION, group=GROUP)
    self.wait_ready(p)
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap})
    producer.produce("clickstream", key=b"c-big", value=b"\xff" * 950_000)
    self.assertEqual(producer.flush(30), 0)
    self.wait_until(lambda: self.read_topics([DLQ_TOPIC])[DLQ_TOPIC],
                    "the dead letter", timeout=DRAIN_TIMEOUT_S, alive=[p])
    letter = self.read_topics([DLQ_TOPIC])[DLQ_TOPIC][0]
    self.assertIn(("tailor-truncated", b"true"), letter.headers())
    self.assertRegex(self.ops("dlq", "list").stdout,
                     r"undecodable\s+clickstream\s+\S+\s+1\s+1")
    done = self.ops("dlq", "redrive").stdout
    self.assertIn("re-drove 0 dead letters", done)
    self.assertIn("refused 1 truncated dead letters", done)
    self.assertEqual(len(self.read_topics(["clickstream"])["clickstream"]), 1)


class OffsetsMoveTest(OpsTestCase):
  """A move is a plan until --execute, is refused while the group has a
  member, and once applied the restarted personalizer really resumes at
  the new position (its state's stored positions moved with it)."""

  def test_move_applies_only_with_execute_and_an_empty_group(self):
    # Two partitions: with a live member, joining gives tailor-ops only part
    # of them (how it sees members on a broker without DescribeGroups).
    self.start_broker(partitions=2)
    state = os.path.join(self.workdir, "state")
    p = self.start_personalizer(SHORT_SESSION, group=GROUP, state_dir=state)
    self.wait_ready(p)
    t = shop_start_ms()
    for i in range(5):
      self.produce("clickstream", "c-offsets", self.view("c-offsets",
                                                         t + i * 1000,
                                                         f"e-{i}"))
    self.wait_until(lambda: self.committed_records(GROUP) >= 5,
                    "five records committed", timeout=DRAIN_TIMEOUT_S,
                    alive=[p])
    shown = json.loads(
        self.ops("offsets", "show", "--json", f"--state_dir={state}").stdout)
    mine = murmur2_partition(b"c-offsets", 2)
    click = [r for r in shown["partitions"]
             if r["topic"] == "clickstream" and r["partition"] == mine][0]
    self.assertEqual(click["committed"], 5)
    self.assertEqual(click["end"], 5)
    self.assertEqual(click["state"], 5)
    self.assertEqual(click["checkpoint"], 5)
    self.assertEqual(click["lag"], 0)

    # While the personalizer is a member: a plan is fine, --execute is not.
    plan = self.ops("offsets", "move", "--to=earliest", "--input_topic="
                    "clickstream", f"--export={self.workdir}/plan.csv")
    self.assertIn("This is a plan; nothing was changed", plan.stderr)
    with open(os.path.join(self.workdir, "plan.csv")) as f:
      self.assertEqual(
          f.read(),
          "topic,partition,offset\nclickstream,0,0\nclickstream,1,0\n")
    shifted = json.loads(
        self.ops("offsets", "move", "--shift_by=-2", "--json",
                 "--input_topic=clickstream", f"--partitions={mine}").stdout)
    self.assertEqual([(r["partition"], r["resumes_at"], r["new"])
                      for r in shifted["partitions"]], [(mine, 5, 3)])
    refused = self.ops("offsets", "move", "--to=earliest",
                       "--input_topic=clickstream", "--execute", expect=3)
    self.assertIn("refusing", refused.stderr)
    self.assertEqual(self.committed_records(GROUP), 5, "moved anyway")

    self.stop_personalizer(p)
    # The embedded broker lets the member go at its session timeout (6 s);
    # until then the move is refused.
    runs = []

    def move():
      runs.append(self.ops("offsets", "move", "--input_topic=clickstream",
                           f"--from_file={self.workdir}/plan.csv",
                           "--execute", expect=None))
      self.assertIn(runs[-1].returncode, (0, 3), runs[-1].stderr)
      return runs[-1].returncode == 0

    self.wait_until(move, "the move to apply once the group is empty",
                    timeout=STOP_TIMEOUT_S)
    moved = runs[-1]
    self.assertEqual(moved.returncode, 0, moved.stderr)
    self.assertIn("moved 2 partitions", moved.stdout)
    self.assertEqual(self.committed_records(GROUP), 0)

    # The restarted personalizer folds the five events again: its state's
    # position moved too (a move of the group offsets alone would not).
    p2 = self.start_personalizer(SHORT_SESSION, group=GROUP, state_dir=state)
    self.wait_until(
        lambda: metrics(p2.port).get("tailor_events_total", 0) >= 5,
        "the five events to be read again", timeout=DRAIN_TIMEOUT_S,
        alive=[p2])
    self.stop_personalizer(p2)


class CustomerLookupTest(OpsTestCase):
  """profile and export work while the personalizer runs: from its state
  directory, from the changelog and over its HTTP port, which serves only
  the partitions its instance owns and is off by default."""

  def test_lookup_beside_a_running_service(self):
    self.start_broker(partitions=2)
    state = os.path.join(self.workdir, "state")
    p = self.start_personalizer(SHORT_SESSION, group=GROUP, state_dir=state,
                                env_extra={"TAILOR_CUSTOMER_API": "true"})
    self.wait_ready(p)
    c = "c-lookup-1"
    t = shop_start_ms()
    item = events_pb2.LineItem(product_id="p-9", quantity=1,
                               unit_price=events_pb2.Money(minor_units=25000,
                                                           currency="PLN"))
    self.produce("privacy", c, events_pb2.Event(
        customer_id=c, event_id="e0", event_time_ms=t,
        consent_updated=events_pb2.ConsentUpdated(
            granted_channels=[events_pb2.CHANNEL_PUSH])))
    self.produce("clickstream", c, events_pb2.Event(
        customer_id=c, event_id="e1", event_time_ms=t + 1000,
        cart_add=events_pb2.CartAdd(item=item)))
    # Not a protobuf: a dead letter keyed by the customer.
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap,
         "partitioner": "murmur2_random"})
    producer.produce("clickstream", key=c.encode(), value=b"\xff\xfe garbage")
    producer.flush(30)
    self.wait_until(lambda: self.committed_records(GROUP) >= 3,
                    "three records committed", timeout=DRAIN_TIMEOUT_S,
                    alive=[p])

    from_state = json.loads(
        self.ops("profile", c, f"--state_dir={state}").stdout)
    self.assertEqual(from_state["customer_id"], c)
    self.assertEqual(from_state["profile"]["events"], "2")
    self.assertEqual(from_state["profile"]["cart"]["items"][0]["product_id"],
                     "p-9")
    self.assertTrue(from_state["pending_timers"], "the cart set a reminder")
    self.assertEqual(from_state["pending_timers"][0]["timer"]["kind"],
                     "TIMER_KIND_CART_REMINDER")
    from_changelog = json.loads(
        self.ops("profile", c, "--from_changelog").stdout)
    self.assertEqual(from_changelog["profile"], from_state["profile"])
    self.assertTrue(p.alive())

    status, body = http_get(p.port, f"/v1/customers/{c}")
    self.assertEqual(status, 200, body)
    over_http = json.loads(body)
    self.assertEqual(over_http["profile"], from_state["profile"])
    self.assertEqual(over_http["pending_timers"], from_state["pending_timers"])
    status, body = http_get(p.port, f"/v1/customers/{c}/export")
    self.assertEqual(status, 200, body)
    self.assertIn("exported_at", json.loads(body))
    status, body = http_get(p.port, "/v1/customers/c-nobody")
    self.assertEqual(status, 404, body)
    self.assertIn("no profile", json.loads(body)["error"])
    status, body = http_get(p.port, "/v1/customers/%01x")
    self.assertEqual(status, 400, body)

    unknown = self.ops("profile", "c-nobody", "--from_changelog", expect=3)
    self.assertIsNone(json.loads(unknown.stdout)["profile"])

    # The decisions keyed by the customer, read independently.
    decided = [m for msgs in self.read_topics([DECISIONS_LOG_TOPIC]).values()
               for m in msgs if m.key() == c.encode()]
    ids = sorted(dict(m.headers())["tailor-decision-id"].decode()
                 for m in decided)
    self.assertTrue(ids, "the 250 PLN cart made no decision")
    self.assertEqual(
        sorted(d["decision"]["decision_id"]
               for d in from_state["last_decisions"]), ids)

    exported = self.ops("export", c)
    document = json.loads(exported.stdout)
    self.assertEqual(
        sorted(d["decision"]["decision_id"] for d in document["decisions"]),
        ids)
    self.assertEqual(document["customer_id"], c)
    self.assertEqual(document["profile"]["profile"], from_state["profile"])
    self.assertEqual(len(document["dead_letters"]), 1)
    self.assertEqual(document["dead_letters"][0]["error_class"],
                     "undecodable")
    # Its consent change, found by the keyed hash of the id.
    self.assertTrue(document["audit"], "the consent change is not exported")
    self.assertNotIn(c, json.dumps(document["audit"]))
    self.assertIn("export", exported.stderr, "no progress shown")
    self.stop_personalizer(p)

  def test_each_instance_serves_only_its_partitions(self):
    self.start_broker(partitions=2)
    api = {"TAILOR_CUSTOMER_API": "true"}
    p1 = self.start_personalizer(SHORT_SESSION, group=GROUP,
                                 state_dir=os.path.join(self.workdir, "s1"),
                                 env_extra=api)
    p2 = self.start_personalizer(SHORT_SESSION, group=GROUP,
                                 state_dir=os.path.join(self.workdir, "s2"),
                                 env_extra=api)
    customers = {}
    for i in range(20):
      c = f"c-own-{i}"
      customers.setdefault(murmur2_partition(c.encode(), 2), c)
    t = shop_start_ms()
    for c in customers.values():
      self.produce("clickstream", c, self.view(c, t, f"e-{c}"))
    self.wait_until(lambda: self.committed_records(GROUP) >= 2,
                    "both records committed", timeout=DRAIN_TIMEOUT_S,
                    alive=[p1, p2])

    def answers(c):
      return sorted(http_get(p.port, f"/v1/customers/{c}")[0]
                    for p in (p1, p2))

    for c in customers.values():
      # One owner answers 200, the other 404 (once the group has settled).
      self.wait_until(lambda c=c: answers(c) == [200, 404],
                      f"one owner of {c}", alive=[p1, p2])
      bodies = [http_get(p.port, f"/v1/customers/{c}") for p in (p1, p2)]
      missing = [json.loads(b) for s, b in bodies if s == 404][0]
      self.assertIn("not owned by this instance", missing["error"])

  def test_the_api_is_off_by_default(self):
    self.start_broker(partitions=1)
    p = self.start_personalizer(SHORT_SESSION, group=GROUP)
    self.wait_ready(p)
    status, _ = http_get(p.port, "/v1/customers/c-1")
    self.assertEqual(status, 404)


class BadArgumentsTest(OpsTestCase):
  """Usage errors exit 2 with a message that says what is wrong; --help
  exits 0."""

  def test_usage_errors(self):
    cases = [
        (("dlq",), "expected an action"),
        (("dlq", "list", "--no_such_flag=1"), "unknown flag --no_such_flag"),
        (("dlq", "list", "--execute"), "unknown flag --execute"),
        (("dlq", "redrive", "--error_class=bogus"),
         "--error_class: unknown class \"bogus\""),
        (("dlq", "show", "zero"), "expected PARTITION:OFFSET"),
        (("dlq", "list", "--from=yesterday"), "--from: \"yesterday\""),
        (("offsets", "move"), "exactly one of --to"),
        (("offsets", "show", "--execute"), "are for `offsets move`"),
        (("offsets", "move", "--from_file=/nonexistent.csv"),
         "--from_file: cannot read /nonexistent.csv"),
        (("profile",), "expected one argument, the customer id"),
        (("profile", "c-1"), "exactly one of --state_dir"),
        (("profile", "c-1", f"--state_dir={os.devnull}-none",
          "--partition_count=2", "--last_decisions=0"), "no RocksDB state"),
        (("export",), "expected one argument"),
    ]
    self.start_broker(partitions=1)
    for args, message in cases:
      done = self.ops(*args, expect=2)
      self.assertIn(message, done.stderr, args)
    for sub in ("dlq", "offsets", "profile", "export"):
      self.assertIn(f"Usage: tailor-ops {sub}",
                    self.ops(sub, "--help").stdout)


def main():
  global events_pb2
  argv = tailor_process_case.parse_command_line(__doc__)
  if tailor_process_case.ARGS.ops is None:
    sys.exit("--ops=<tailor-ops binary> is required")
  from tailor.v1 import events_pb2 as e  # pylint: disable=import-outside-toplevel
  events_pb2 = e
  unittest.main(argv=argv)


if __name__ == "__main__":
  main()
