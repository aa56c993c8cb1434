#!/usr/bin/env python3
"""Chaos tests of the shipped tailor programs: crashes and group changes.

devbroker, loadgen and one or more personalizers run as separate processes.
Personalizers are killed with SIGKILL at random points and restarted (some on
an empty state directory), or join and leave the group while loadgen
produces. At the end the final profiles, read from the changelog topic (the
last record per key wins), are checked against the input topics, and the
decision topics are checked for consistent decision ids.

    chaos_test.py --personalizer=BIN --devbroker=BIN --loadgen=BIN \
        --pydir=DIR [unittest arguments, e.g. CrashLoopAtLeastOnceTest]

Environment: TAILOR_CHAOS_SEED fixes the random kill schedule (it is printed
either way); TAILOR_KEEP_TEST_DIRS=1 keeps the directories (logs) of failed
tests. Every started process is killed in tearDown and gets a parent-death
signal, so none outlives the runner.

What a correct system guarantees and what is checked:
  at_least_once: no event lost (profile events >= valid input events of the
    customer); a few may be folded twice after a crash (reported); a decision
    id may repeat, but always for the same customer, kind and campaign.
  exactly_once: profile events == valid input events, and no decision id
    twice. The embedded broker (librdkafka 2.0.2's mock cluster) shows the
    records of aborted transactions to read_committed readers; a personalizer
    killed in the middle of a transaction leaves such records, and a restore
    (or this test's reading of the changelog and decision topics) sees them.
    The test probes the broker for this at start; where the broker shows
    aborted records, the equalities are weakened to "no loss" and "a repeated
    id is the same decision", and the excess is reported.
"""

import argparse
import collections
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "pylib"))
from tailor_procs import Proc, read_text, shop_start_ms  # noqa: E402

ARGS = None  # Parsed command line, set in main().
kafka = None  # confluent_kafka, imported in main().
events_pb2 = None
decision_pb2 = None
profile_pb2 = None

PARTITIONS = 4
INPUT_TOPICS = ("clickstream", "orders", "privacy")
DECISION_TOPICS = ("decisions.coupons", "decisions.push",
                   "decisions.cart-reminders", "decisions.agent-escalations")
# Every decision, whatever its action.
DECISIONS_LOG_TOPIC = "tailor.decisions.log"
OUTCOMES_TOPIC = "tailor.outcomes"
DLQ_TOPIC = "tailor.dlq"
CHANGELOG_TOPIC = "tailor.profiles.changelog"
PROBE_TOPIC = "chaos.probe"
AUDIT_TOPIC = "tailor.audit"
ALL_TOPICS = INPUT_TOPICS + DECISION_TOPICS + (
    DECISIONS_LOG_TOPIC, OUTCOMES_TOPIC, DLQ_TOPIC, CHANGELOG_TOPIC,
    AUDIT_TOPIC, PROBE_TOPIC)
CHECKPOINT_KEY = b"\x00tailor.checkpoint"

# A killed member stays in the group until its session times out; keep that
# short so that restarts get their partitions back within seconds.
CONSUMER_PROPERTIES = "session.timeout.ms=6000,heartbeat.interval.ms=500"
# Larger batches than the default keep the changelog (one record per changed
# profile per commit, one checkpoint per partition per commit) well under
# what the embedded broker retains per partition.
SERVICE_CONFIG = """\
max_batch_events: 5000
max_batch_ms: 200
profile_cache_entries: 50000
block_cache_mb: 16
write_buffer_mb: 8
# loadgen's shop time runs faster than the wall clock: only it moves time.
time_source: TIME_SOURCE_EVENT
"""

START_TIMEOUT_S = 30
READY_TIMEOUT_S = 60
CATCH_UP_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60

HTTP_PORT_LINE = re.compile(r"serving /metrics /healthz /readyz on port (\d+)")
SUMMARY_EVENTS = re.compile(r"^summary: events=(\d+)", re.M)

_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(msg):
  print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def http_status(port, path):
  try:
    with _HTTP.open(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
      return r.status
  except urllib.error.HTTPError as e:
    return e.code
  except (urllib.error.URLError, OSError):
    return None


def read_topics(bootstrap, topics, settle_s=3.0, timeout_s=120):
  """Every record of `topics` from the beginning, as confluent_kafka
  Messages, once each partition's position reached its high watermark (or
  nothing arrived for `settle_s`). read_committed, like a subscriber."""
  consumer = kafka.Consumer({
      "bootstrap.servers": bootstrap,
      "group.id": f"chaos-reader-{uuid.uuid4()}",
      "enable.auto.commit": False,
      "isolation.level": "read_committed",
      "enable.partition.eof": False,
  })
  try:
    parts = []
    highs = {}
    for topic in topics:
      for p in range(PARTITIONS):
        tp = kafka.TopicPartition(topic, p, kafka.OFFSET_BEGINNING)
        parts.append(tp)
        highs[(topic, p)] = consumer.get_watermark_offsets(
            kafka.TopicPartition(topic, p), timeout=10)[1]
    consumer.assign(parts)
    out = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
      batch = consumer.consume(num_messages=10000, timeout=0.2)
      for m in batch:
        if m.error():
          continue
        out.append(m)
      if batch:
        quiet_since = time.monotonic()
      positions = consumer.position(
          [kafka.TopicPartition(t, p) for (t, p) in highs])
      if all(tp.offset >= highs[(tp.topic, tp.partition)] or
             highs[(tp.topic, tp.partition)] == 0 for tp in positions):
        break
      if time.monotonic() - quiet_since > settle_s:
        break
    return out
  finally:
    consumer.close()


def low_watermarks(bootstrap, topic):
  consumer = kafka.Consumer({
      "bootstrap.servers": bootstrap,
      "group.id": f"chaos-marks-{uuid.uuid4()}"
  })
  try:
    return {
        p: consumer.get_watermark_offsets(kafka.TopicPartition(topic, p),
                                          timeout=10)
        for p in range(PARTITIONS)
    }
  finally:
    consumer.close()


def broker_shows_aborted_records(bootstrap):
  """Produces a record in a transaction, aborts it and reads the topic
  read_committed: True when the aborted record is returned (the embedded
  broker's limit), False on a broker that hides it, as Kafka does."""
  producer = kafka.Producer({
      "bootstrap.servers": bootstrap,
      "transactional.id": f"chaos-probe-{uuid.uuid4()}",
  })
  producer.init_transactions(30)
  producer.begin_transaction()
  producer.produce(PROBE_TOPIC, key=b"probe", value=b"aborted", partition=0)
  producer.flush(30)
  producer.abort_transaction(30)
  seen = [m.value() for m in read_topics(bootstrap, [PROBE_TOPIC])]
  return b"aborted" in seen


class InputTruth:
  """Valid input events per customer, from the input topics and the DLQ."""

  def __init__(self, bootstrap):
    dead = set()
    for m in read_topics(bootstrap, [DLQ_TOPIC]):
      h = dict(m.headers() or [])  # name (str) -> value (bytes)
      dead.add((h.get("tailor-source-topic", b"").decode(),
                int(h.get("tailor-source-partition", b"-1")),
                int(h.get("tailor-source-offset", b"-1"))))
    self.dead_letters = len(dead)
    self.per_customer = collections.Counter()
    # Customers who objected to profiling at least once: from then on only
    # their consent is kept (events are not counted), so their count of
    # folded events depends on where the opt-out fell among their events.
    self.opted_out = set()
    self.records = 0
    self.undecodable = 0
    for m in read_topics(bootstrap, INPUT_TOPICS):
      self.records += 1
      if (m.topic(), m.partition(), m.offset()) in dead:
        continue
      event = events_pb2.Event()
      try:
        event.ParseFromString(m.value())
      except Exception:  # pylint: disable=broad-except
        self.undecodable += 1
        continue
      if not event.customer_id or event.customer_id.encode() != m.key():
        self.undecodable += 1
        continue
      self.per_customer[event.customer_id] += 1
      if (event.HasField("consent_updated") and
          event.consent_updated.profiling_opt_out):
        self.opted_out.add(event.customer_id)

  def total(self):
    return sum(self.per_customer.values())


class ChangelogState:
  """The final profiles: the changelog read from the beginning, last record
  per key wins (an empty value is an erasure's tombstone)."""

  def __init__(self, bootstrap):
    self.profiles = {}  # customer id -> CustomerProfile
    self.checkpoints = {}  # partition -> PartitionCheckpoint
    self.records = 0
    for m in read_topics(bootstrap, [CHANGELOG_TOPIC]):
      self.records += 1
      if m.key() == CHECKPOINT_KEY:
        cp = profile_pb2.PartitionCheckpoint()
        cp.ParseFromString(m.value())
        self.checkpoints[m.partition()] = cp
        continue
      customer = m.key().decode()
      if not m.value():
        self.profiles.pop(customer, None)
        continue
      profile = profile_pb2.CustomerProfile()
      profile.ParseFromString(m.value())
      self.profiles[customer] = profile


def input_high_watermarks(bootstrap):
  consumer = kafka.Consumer({
      "bootstrap.servers": bootstrap,
      "group.id": f"chaos-marks-{uuid.uuid4()}"
  })
  try:
    return {(t, p): consumer.get_watermark_offsets(kafka.TopicPartition(t, p),
                                                   timeout=10)[1]
            for t in INPUT_TOPICS for p in range(PARTITIONS)}
  finally:
    consumer.close()


class ChaosCase(unittest.TestCase):
  """Broker, loadgen and personalizer plumbing shared by the chaos tests."""

  def setUp(self):
    self.workdir = tempfile.mkdtemp(prefix="tailor-chaos-")
    self.procs = []
    self.names = collections.Counter()
    seed = os.environ.get("TAILOR_CHAOS_SEED")
    self.seed = int(seed) if seed else random.randrange(1 << 30)
    self.rng = random.Random(self.seed)
    log(f"{self.id()}: workdir {self.workdir} seed {self.seed} "
        "(TAILOR_CHAOS_SEED)")
    # Private copies: a rebuild in the shared build directory must not
    # replace a program between two restarts of one test.
    bindir = os.path.join(self.workdir, "bin")
    os.makedirs(bindir)
    self.bin = {}
    for name in ("personalizer", "devbroker", "loadgen"):
      self.bin[name] = shutil.copy2(getattr(ARGS, name), bindir)

  def tearDown(self):
    for p in self.procs:
      p.kill()
    # Test errors are not final before tearDown returns; the flag is.
    failed = not getattr(self._outcome, "success", True)
    if failed and os.environ.get("TAILOR_KEEP_TEST_DIRS"):
      log(f"keeping {self.workdir}")
    else:
      shutil.rmtree(self.workdir, ignore_errors=True)

  def start(self, name, argv):
    self.names[name] += 1
    unique = f"{name}-{self.names[name]}"
    p = Proc(unique, argv, self.workdir)
    self.procs.append(p)
    return p

  def start_broker(self):
    bootstrap_file = os.path.join(self.workdir, "bootstrap")
    self.broker = self.start("devbroker", [
        self.bin["devbroker"], f"--partitions={PARTITIONS}",
        f"--bootstrap_file={bootstrap_file}", "--topics=" + ",".join(ALL_TOPICS)
    ])
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
      text = read_text(bootstrap_file)
      if text.startswith("bootstrap.servers="):
        self.bootstrap = text.strip().split("=", 1)[1]
        return self.bootstrap
      self.assertTrue(self.broker.alive(), self.broker.tail())
      time.sleep(0.05)
    self.fail(f"devbroker wrote no bootstrap file\n{self.broker.tail()}")

  def start_loadgen(self, count, rate, customers=20000, time_scale=240):
    return self.start("loadgen", [
        self.bin["loadgen"], f"--bootstrap_servers={self.bootstrap}",
        f"--count={count}", f"--rate={rate}", f"--customers={customers}",
        "--seed=7", f"--time_scale={time_scale}",
        f"--start_ms={shop_start_ms()}", "--malformed_percent=0",
        "--erasure_share=0"
    ])

  def new_state_dir(self):
    self.names["state"] += 1
    path = os.path.join(self.workdir, f"state-{self.names['state']}")
    os.makedirs(path)
    return path

  def start_personalizer(self, state_dir, guarantee, instance_id=None):
    config = os.path.join(self.workdir, "personalizer.yaml")
    with open(config, "w") as f:
      f.write(SERVICE_CONFIG)
    argv = [
        self.bin["personalizer"], f"--config={config}",
        f"--bootstrap_servers={self.bootstrap}", f"--state_dir={state_dir}",
        f"--processing_guarantee={guarantee}",
        "--http_address=127.0.0.1:0",
        f"--kafka_consumer_property={CONSUMER_PROPERTIES}"
    ]
    if instance_id:
      argv.append(f"--group_instance_id={instance_id}")
    p = self.start("personalizer", argv)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
      m = HTTP_PORT_LINE.search(p.stderr())
      if m:
        p.port = int(m.group(1))
        return p
      self.assertTrue(p.alive(), f"personalizer exited\n{p.tail()}")
      time.sleep(0.05)
    self.fail(f"personalizer logged no HTTP port\n{p.tail()}")

  def wait_ready(self, p, timeout=READY_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      self.assertTrue(p.alive(), f"{p.name} exited\n{p.tail()}")
      if http_status(p.port, "/readyz") == 200:
        return True
      time.sleep(0.1)
    return False

  def wait_caught_up(self, procs, timeout=CATCH_UP_TIMEOUT_S):
    """Until the last PartitionCheckpoint on the changelog of every partition
    covers the end of every input partition: the state the personalizers
    made durable reflects all the input. (Not the group's committed offsets:
    the embedded broker does not keep offsets committed in a transaction.)"""
    highs = input_high_watermarks(self.bootstrap)
    deadline = time.monotonic() + timeout
    behind = {}
    while time.monotonic() < deadline:
      for p in procs:
        self.assertTrue(p.alive(), f"{p.name} exited\n{p.tail()}")
      state = ChangelogState(self.bootstrap)
      behind = {}
      for (topic, partition), high in highs.items():
        cp = state.checkpoints.get(partition)
        at = {x.topic: x.next_offset for x in cp.positions} if cp else {}
        if high > 0 and at.get(topic, 0) < high:
          behind[(topic, partition)] = (at.get(topic), high)
      if not behind:
        return
      time.sleep(1)
    self.fail(f"not caught up after {timeout} s: (checkpoint, end) {behind}\n" +
              "\n".join(p.tail() for p in procs))

  def stop(self, p):
    p.send(signal.SIGTERM)
    code = p.wait(STOP_TIMEOUT_S)
    self.assertEqual(code, 0, f"{p.name} exit code {code}\n{p.tail()}")
    self.assertRegex(p.stdout(), SUMMARY_EVENTS, p.tail())

  def wait_loadgen(self, loadgen, count, timeout):
    code = loadgen.wait(timeout)
    self.assertEqual(code, 0, loadgen.tail())
    self.assertIn(f"produced={count} ", loadgen.stdout())

  # ---- final checks ----

  def check_changelog_retained(self):
    marks = low_watermarks(self.bootstrap, CHANGELOG_TOPIC)
    for p, (low, high) in marks.items():
      self.assertEqual(
          low, 0, f"the embedded broker dropped the start of {CHANGELOG_TOPIC}"
          f"[{p}] (offsets {low}..{high}): the final state cannot be read "
          "back; lower the input volume of this test")
    log(f"changelog offsets per partition: "
        f"{ {p: high for p, (_, high) in marks.items()} }")

  def check_profiles(self, exact):
    """Final profiles against the input. `exact`: events must equal the
    input count; otherwise only no loss is asserted and the excess is
    reported. Returns (customers over, events over)."""
    truth = InputTruth(self.bootstrap)
    state = ChangelogState(self.bootstrap)
    log(f"input: {truth.records} records, {truth.total()} valid events of "
        f"{len(truth.per_customer)} customers, {truth.dead_letters} dead "
        f"letters; changelog: {state.records} records, "
        f"{len(state.profiles)} profiles")
    self.assertGreater(truth.total(), 0)
    self.assertEqual(truth.undecodable, 0)
    self.assertEqual(truth.dead_letters, 0,
                     "loadgen sent only valid events, yet some went to the "
                     "dead-letter topic")
    missing = [c for c in truth.per_customer if c not in state.profiles]
    self.assertEqual(missing[:20], [],
                     f"{len(missing)} customers have no profile (lost)")
    unknown = [c for c in state.profiles if c not in truth.per_customer]
    self.assertEqual(unknown[:20], [], "profiles of customers never sent")
    lost = []
    over_customers = 0
    over_events = 0
    for customer, sent in truth.per_customer.items():
      profile = state.profiles[customer]
      folded = profile.events
      if customer in truth.opted_out:
        # An opted-out profile keeps nothing of the behaviour.
        if profile.profiling_opt_out:
          self.assertEqual(folded, 0, f"{customer} opted out")
        continue
      if folded < sent:
        lost.append((customer, sent, folded))
      elif folded > sent:
        over_customers += 1
        over_events += folded - sent
    self.assertEqual(lost[:20], [],
                     f"{len(lost)} profiles lost events "
                     "(customer, sent, folded)")
    log(f"overcount: {over_customers} customers, {over_events} events "
        f"folded twice (of {truth.total()}); {len(truth.opted_out)} "
        "customers opted out of profiling, checked for that only")
    if exact:
      self.assertEqual((over_customers, over_events), (0, 0),
                       "events folded more than once")
    # The checkpoints record positions at the end of the input.
    highs = input_high_watermarks(self.bootstrap)
    for p in range(PARTITIONS):
      self.assertIn(p, state.checkpoints)
      positions = {x.topic: x.next_offset for x in state.checkpoints[p].positions}
      for t in INPUT_TOPICS:
        if highs[(t, p)] > 0:
          self.assertEqual(positions.get(t), highs[(t, p)],
                           f"checkpoint of partition {p}, topic {t}")
    return over_customers, over_events

  def check_decisions(self, unique):
    """A decision id always names the same customer, kind and campaign;
    with `unique`, no id appears twice. Returns (decisions, repeated)."""
    by_id = {}
    repeated = 0
    differing_bytes = 0
    total = 0
    kinds = collections.Counter()
    for m in read_topics(self.bootstrap, [DECISIONS_LOG_TOPIC]):
      d = decision_pb2.Decision()
      d.ParseFromString(m.value())
      total += 1
      kinds[decision_pb2.DecisionKind.Name(d.kind)] += 1
      self.assertEqual(m.key().decode(), d.customer_id)
      what = (d.customer_id, d.kind, d.campaign)
      if d.decision_id in by_id:
        repeated += 1
        first_what, first_bytes = by_id[d.decision_id]
        self.assertEqual(first_what, what,
                         f"decision id {d.decision_id} names two decisions")
        if first_bytes != m.value():
          differing_bytes += 1
      else:
        by_id[d.decision_id] = (what, m.value())
    log(f"decisions: {total} ({dict(kinds)}), {repeated} repeated ids, "
        f"{differing_bytes} repeats with other bytes")
    self.assertGreater(total, 0, "no decisions at all")
    if unique:
      self.assertEqual(repeated, 0, "a decision id seen twice")
    return total, repeated


class CrashLoop:
  """SIGKILL a personalizer at random points while loadgen runs."""

  GUARANTEE = None
  KILLS = 6
  COUNT = 40000
  RATE = 500

  def test_crash_loop(self):
    self.start_broker()
    shows_aborted = broker_shows_aborted_records(self.bootstrap)
    log(f"broker shows aborted records to read_committed readers: "
        f"{shows_aborted}")
    loadgen = self.start_loadgen(self.COUNT, self.RATE)
    state_dir = self.new_state_dir()
    empty_restarts = {2, 4}  # these restarts start on an empty disk
    restored_on_empty_disk = 0
    for i in range(self.KILLS):
      if i in empty_restarts:
        state_dir = self.new_state_dir()
      # A stable instance id gives a stable transactional id: a restart
      # fences its predecessor and aborts the transaction it left open.
      p = self.start_personalizer(state_dir, self.GUARANTEE, "chaos-0")
      # Usually killed once ready (assigned and restored), sometimes
      # before; an instance on an empty disk always restores first, or
      # the restore from the changelog may never be exercised (a member
      # rejoining takes up to the session timeout, longer than most
      # delays).
      wait = self.rng.random() < 0.75
      if wait or i in empty_restarts:
        self.assertTrue(self.wait_ready(p), f"never ready\n{p.tail()}")
      delay = self.rng.uniform(0.3, 6.0)
      time.sleep(delay)
      self.assertTrue(p.alive(), f"{p.name} died\n{p.tail()}")
      p.send(signal.SIGKILL)
      p.wait(10)
      log(f"kill {i + 1}: {p.name} after {delay:.1f} s "
          f"(state {os.path.basename(state_dir)}, loadgen "
          f"{'running' if loadgen.alive() else 'done'})")
      if i in empty_restarts and "restoring partition" in p.stderr():
        restored_on_empty_disk += 1
    # A last instance (sometimes on an empty disk) finishes cleanly.
    if self.rng.random() < 0.5:
      state_dir = self.new_state_dir()
      log("final instance on an empty state dir")
    final = self.start_personalizer(state_dir, self.GUARANTEE, "chaos-0")
    self.wait_loadgen(loadgen, self.COUNT, timeout=300)
    self.wait_caught_up([final])
    self.stop(final)
    log(final.stdout().strip().splitlines()[-1])
    self.assertGreater(restored_on_empty_disk, 0,
                       "no instance on an empty disk restored from the "
                       "changelog")

    self.check_changelog_retained()
    exact = self.GUARANTEE == "exactly_once" and not shows_aborted
    # exactly_once on the embedded broker: a SIGKILL inside a transaction
    # leaves records that a real broker hides (aborted) but this one shows.
    # A restore then applies the killed batch's changelog records without
    # its checkpoint when the kill fell between them, and the batch is folded
    # again: equality is weakened to no loss there, and duplicates of the
    # aborted decisions are allowed (same customer, kind and campaign).
    self.check_profiles(exact=exact)
    self.check_decisions(unique=exact)


class CrashLoopAtLeastOnceTest(CrashLoop, ChaosCase):
  GUARANTEE = "at_least_once"


class CrashLoopExactlyOnceTest(CrashLoop, ChaosCase):
  GUARANTEE = "exactly_once"


class ScaleOutInTest(ChaosCase):
  """Instances join and leave the group (SIGTERM) while loadgen runs."""

  COUNT = 30000
  RATE = 500

  def test_scale_out_and_in(self):
    self.start_broker()
    first = self.start_personalizer(self.new_state_dir(), "at_least_once")
    self.assertTrue(self.wait_ready(first), first.tail())
    loadgen = self.start_loadgen(self.COUNT, self.RATE)
    time.sleep(8)
    second = self.start_personalizer(self.new_state_dir(), "at_least_once")
    time.sleep(8)
    third = self.start_personalizer(self.new_state_dir(), "at_least_once")
    time.sleep(3)
    for p in (second, third):
      self.assertTrue(self.wait_ready(p), f"{p.name} never ready\n{p.tail()}")
    time.sleep(10)
    self.assertTrue(loadgen.alive(), "loadgen finished before scale-in; "
                    "raise COUNT")
    joined = [p for p in (second, third) if "assigned " in p.stderr()]
    self.assertEqual(len(joined), 2, "the new instances got no partitions")
    self.stop(second)
    time.sleep(6)
    self.stop(third)
    self.wait_loadgen(loadgen, self.COUNT, timeout=300)
    self.wait_caught_up([first])
    self.stop(first)
    for p in (first, second, third):
      log(f"{p.name}: {p.stdout().strip().splitlines()[-1]}")
    self.check_changelog_retained()
    self.check_profiles(exact=False)
    self.check_decisions(unique=False)


def main():
  global ARGS, kafka, events_pb2, decision_pb2, profile_pb2
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--personalizer", required=True)
  parser.add_argument("--devbroker", required=True)
  parser.add_argument("--loadgen", required=True)
  parser.add_argument("--pydir", required=True,
                      help="directory of the generated tailor/v1/*_pb2.py")
  ARGS, rest = parser.parse_known_args()
  for name in ("personalizer", "devbroker", "loadgen", "pydir"):
    setattr(ARGS, name, os.path.abspath(getattr(ARGS, name)))
  sys.path.insert(0, ARGS.pydir)
  import confluent_kafka  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as d  # pylint: disable=import-outside-toplevel
  from tailor.v1 import events_pb2 as e  # pylint: disable=import-outside-toplevel
  from tailor.v1 import profile_pb2 as pr  # pylint: disable=import-outside-toplevel
  kafka, events_pb2, decision_pb2, profile_pb2 = confluent_kafka, e, d, pr
  unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
  main()
