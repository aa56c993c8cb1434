"""The test case and Kafka/HTTP helpers shared by the process-level tests.

tests/integration/process/process_test.py and determinism_test.py start the
shipped programs (devbroker, loadgen, personalizer) as processes and check
them from outside. This module holds what both need: the command line they
take, a unittest.TestCase that starts programs and stops every one of them in
tearDown, the /metrics reader and an independent Kafka reader.

A test script calls parse_command_line() in its main() before unittest runs;
it sets ARGS (the parsed flags) and kafka (confluent_kafka) here and makes the
tailor.v1 modules generated from proto/ importable (`from tailor.v1 import
decision_pb2`).
"""

import argparse
import os
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

from tailor_procs import Proc, read_text

ARGS = None  # Parsed command line, set by parse_command_line().
kafka = None  # confluent_kafka, imported by parse_command_line().

INPUT_TOPICS = ("clickstream", "orders", "privacy")
# The delivery topics: SEND decisions only.
DECISION_TOPICS = ("decisions.coupons", "decisions.push",
                   "decisions.cart-reminders", "decisions.agent-escalations")
# Every decision, whatever its action.
DECISIONS_LOG_TOPIC = "tailor.decisions.log"
OUTCOMES_TOPIC = "tailor.outcomes"
DLQ_TOPIC = "tailor.dlq"
AUDIT_TOPIC = "tailor.audit"
ALL_TOPICS = INPUT_TOPICS + DECISION_TOPICS + (
    DECISIONS_LOG_TOPIC, OUTCOMES_TOPIC, DLQ_TOPIC, "tailor.profiles.changelog",
    AUDIT_TOPIC)

# Generous deadlines for things that must happen eventually; no test asserts
# on how fast anything is.
START_TIMEOUT_S = 30
DRAIN_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30

SUMMARY_LINE = re.compile(r"^summary: .*$", re.M)
# The embedded broker keeps a departed member in its group until the
# member's session times out (it does not act on the LeaveGroup of a clean
# shutdown), so a restart in the same group waits that long for partitions:
# 45 s with librdkafka's default, 6 s with this.
SHORT_SESSION = ("--kafka_consumer_property="
                 "session.timeout.ms=6000,heartbeat.interval.ms=500")
HTTP_PORT_LINE = re.compile(r"serving /metrics /healthz /readyz on port (\d+)")


def parse_command_line(description):
  """Parses the flags of a process test script (unknown ones are left for
  unittest), imports confluent_kafka and makes the generated tailor.v1
  modules importable. Returns the argv to pass to unittest.main()."""
  global ARGS, kafka
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--personalizer", required=True)
  parser.add_argument("--devbroker", required=True)
  parser.add_argument("--loadgen", help="needed by tests that run loadgen")
  parser.add_argument("--ops", help="tailor-ops, for tests that run it")
  parser.add_argument("--pydir",
                      required=True,
                      help="directory holding the generated tailor/v1/*_pb2.py")
  parser.add_argument("--source_dir", help="repository root")
  ARGS, rest = parser.parse_known_args()
  # Programs run in the test's temporary directory: no relative paths.
  for name in ("personalizer", "devbroker", "loadgen", "ops", "pydir",
               "source_dir"):
    if getattr(ARGS, name):
      setattr(ARGS, name, os.path.abspath(getattr(ARGS, name)))
  sys.path.insert(0, ARGS.pydir)
  try:
    # pylint: disable=import-outside-toplevel,unused-import
    import confluent_kafka
    from tailor.v1 import decision_pb2  # Generated: is --pydir right?
  except ImportError as e:
    sys.exit(f"{sys.argv[0]}: {e} (python3-confluent-kafka and "
             f"python3-protobuf are installed by tools/setup.sh; run with "
             f"{sys.executable})")
  kafka = confluent_kafka
  return [sys.argv[0]] + rest


def parse_summary(stdout):
  """The personalizer's `summary:` line as {name: number}."""
  lines = SUMMARY_LINE.findall(stdout)
  if len(lines) != 1:
    raise AssertionError(f"expected one summary line, got {len(lines)}:\n"
                         f"{stdout[-2000:]}")
  return {k: float(v) for k, v in re.findall(r"(\w+)=(-?[\d.]+)", lines[0])}


def parse_loadgen(stdout):
  m = re.search(r"^loadgen: produced=(\d+) malformed=(\d+)", stdout, re.M)
  if not m:
    raise AssertionError(f"no loadgen summary line in:\n{stdout}")
  return {"produced": int(m.group(1)), "malformed": int(m.group(2))}


# No proxy for 127.0.0.1, whatever the environment says.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(port, path):
  """(status, body) of GET http://127.0.0.1:port/path."""
  try:
    with _HTTP.open(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
      return r.status, r.read().decode()
  except urllib.error.HTTPError as e:
    return e.code, e.read().decode()
  except (urllib.error.URLError, ConnectionError) as e:
    return None, str(e)  # Not listening (yet, or any more).


def metrics(port):
  """The Prometheus text exposition as {'name{labels}': value}."""
  status, body = http_get(port, "/metrics")
  if status != 200:
    raise AssertionError(f"/metrics returned {status}: {body}")
  out = {}
  for line in body.splitlines():
    if not line or line.startswith("#"):
      continue
    name, _, value = line.rpartition(" ")
    out[name] = float(value)
  return out


def metric(port, name):
  values = metrics(port)
  if name not in values:
    raise AssertionError(f"/metrics has no {name}: {sorted(values)}")
  return values[name]


def records_taken(port):
  """Input records the personalizer has taken: valid events plus dead
  letters, as its /metrics say."""
  m = metrics(port)
  return m["tailor_events_total"] + metric_sum(m, "tailor_dead_letters_total")


def metric_sum(values, name):
  """The sum of every series of `name` (all label sets) in metrics()."""
  return sum(v for k, v in values.items()
             if k == name or k.startswith(name + "{"))


class ProcessTestCase(unittest.TestCase):
  """Starts programs for a test and stops every one of them in tearDown."""

  def setUp(self):
    self.workdir = tempfile.mkdtemp(prefix="tailor-process-test.")
    self.procs = []
    self.bootstrap = None
    self.bootstrap_file = None

  def tearDown(self):
    for p in reversed(self.procs):
      p.kill()
    leftovers = [p.name for p in self.procs if p.popen.poll() is None]
    failed = not getattr(self._outcome, "success", True)
    if failed:
      sys.stderr.write("\n".join(p.tail() for p in self.procs) + "\n")
    if failed and os.environ.get("TAILOR_KEEP_TEST_DIRS"):
      sys.stderr.write(f"kept {self.workdir}\n")
    else:
      shutil.rmtree(self.workdir, ignore_errors=True)
    self.assertEqual(leftovers, [], "processes survived SIGKILL")

  # --- processes ------------------------------------------------------------

  def start(self, name, argv, env=None):
    taken = {p.name for p in self.procs}
    unique, n = name, 1
    while unique in taken:
      n += 1
      unique = f"{name}-{n}"
    p = Proc(unique, argv, self.workdir, env=env)
    self.procs.append(p)
    return p

  def logs(self):
    return "\n".join(p.tail() for p in self.procs)

  def wait_until(self, condition, what, timeout=START_TIMEOUT_S, alive=()):
    """Polls condition() until true; fails if it is not within timeout or if
    one of the `alive` processes exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
      value = condition()
      if value:
        return value
      for p in alive:
        if not p.alive():
          self.fail(f"{p.name} exited with {p.popen.returncode} while waiting "
                    f"for: {what}\n{self.logs()}")
      if time.monotonic() > deadline:
        self.fail(f"timed out after {timeout} s waiting for: {what}\n"
                  f"{self.logs()}")
      time.sleep(0.1)

  def start_broker(self, partitions=2, extra_topics=()):
    """Starts a devbroker and points self.bootstrap at it. A test may start
    several one after another (each gets its own bootstrap file).
    `extra_topics` are created too, besides the usual ones."""
    brokers = sum(1 for p in self.procs if p.name.startswith("devbroker"))
    self.bootstrap_file = os.path.join(
        self.workdir, "bootstrap" if brokers == 0 else f"bootstrap-{brokers}")
    broker = self.start("devbroker", [
        ARGS.devbroker, f"--partitions={partitions}",
        f"--bootstrap_file={self.bootstrap_file}"
    ] + ([f"--topics={','.join(ALL_TOPICS + tuple(extra_topics))}"]
         if extra_topics else []))
    line = self.wait_until(
        lambda: read_text(self.bootstrap_file).strip(),
        "devbroker to write its bootstrap file",
        alive=[broker])
    self.assertTrue(line.startswith("bootstrap.servers="), line)
    self.bootstrap = line.split("=", 1)[1]
    return broker

  def start_personalizer(self, *flags, state_dir=None, group="tailor-test",
                         env_extra=None):
    """Starts a personalizer on this test's broker. The tests' shop time
    (loadgen's --time_scale, fixed timelines) is not the wall clock, so only
    event time moves it unless the flags say --time_source=wall."""
    state_dir = state_dir or os.path.join(self.workdir, "state")
    time_source = ([] if any(f.startswith("--time_source=") for f in flags)
                   else ["--time_source=event"])
    p = self.start("personalizer", [
        ARGS.personalizer, f"--bootstrap_file={self.bootstrap_file}",
        f"--state_dir={state_dir}", f"--group_id={group}",
        "--http_address=127.0.0.1:0", *time_source, *flags
    ], env=dict(os.environ, **env_extra) if env_extra else None)
    match = self.wait_until(lambda: HTTP_PORT_LINE.search(p.stderr()),
                            "the personalizer to log its HTTP port",
                            alive=[p])
    p.port = int(match.group(1))
    return p

  def wait_ready(self, personalizer):
    self.wait_until(lambda: http_get(personalizer.port, "/readyz")[0] == 200,
                    f"{personalizer.name} /readyz to return 200",
                    alive=[personalizer])

  def start_loadgen(self, *flags):
    return self.start(
        "loadgen",
        [ARGS.loadgen, f"--bootstrap_file={self.bootstrap_file}", *flags])

  def run_loadgen(self, *flags):
    """Runs loadgen to completion; returns its produced/malformed counts."""
    p = self.start_loadgen(*flags)
    rc = p.wait(DRAIN_TIMEOUT_S + 60)
    self.assertEqual(rc, 0, f"loadgen failed\n{p.tail()}")
    return parse_loadgen(p.stdout())

  def wait_processed(self, personalizer, records):
    """Waits until the personalizer has taken `records` input records (valid
    events plus dead letters), as its metrics say."""
    self.wait_until(lambda: records_taken(personalizer.port) >= records,
                    f"{personalizer.name} to process {records} records",
                    timeout=DRAIN_TIMEOUT_S,
                    alive=[personalizer])
    return records_taken(personalizer.port)

  def stop_personalizer(self, personalizer):
    """SIGTERM; checks the exit code 0; returns the summary."""
    personalizer.send(signal.SIGTERM)
    rc = personalizer.wait(STOP_TIMEOUT_S)
    self.assertEqual(rc, 0,
                     f"personalizer exit code after SIGTERM\n{self.logs()}")
    summary = parse_summary(personalizer.stdout())
    sys.stderr.write(f"{personalizer.name} {summary}\n")
    return summary

  # --- Kafka, from outside --------------------------------------------------

  def read_topics(self, topics):
    """Every committed record of `topics` as {topic: [Message]}, read from the
    beginning up to the high watermark of each partition."""
    consumer = kafka.Consumer({
        "bootstrap.servers": self.bootstrap,
        "group.id": f"tailor-test-reader-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    try:
      metadata = consumer.list_topics(timeout=10)
      ends = {}
      for topic in topics:
        self.assertIn(topic, metadata.topics, "topic missing on the broker")
        for partition in metadata.topics[topic].partitions:
          tp = kafka.TopicPartition(topic, partition)
          low, high = consumer.get_watermark_offsets(tp, timeout=10)
          if high > low:
            ends[(topic, partition)] = high
      consumer.assign([
          kafka.TopicPartition(t, p, kafka.OFFSET_BEGINNING)
          for (t, p) in ends
      ])
      out = {t: [] for t in topics}
      deadline = time.monotonic() + DRAIN_TIMEOUT_S
      while ends:
        self.assertLess(time.monotonic(), deadline,
                        f"reading stalled; still to read: {ends}")
        msg = consumer.poll(0.5)
        if msg is None:
          continue
        self.assertIsNone(msg.error(), msg.error())
        out[msg.topic()].append(msg)
        key = (msg.topic(), msg.partition())
        if key in ends and msg.offset() + 1 >= ends[key]:
          del ends[key]
      return out
    finally:
      consumer.close()

  def committed_records(self, group):
    """Sum over the input partitions of the offsets `group` committed."""
    consumer = kafka.Consumer({
        "bootstrap.servers": self.bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
    })
    try:
      metadata = consumer.list_topics(timeout=10)
      tps = [
          kafka.TopicPartition(t, p)
          for t in INPUT_TOPICS
          for p in metadata.topics[t].partitions
      ]
      committed = consumer.committed(tps, timeout=10)
      return sum(max(tp.offset, 0) for tp in committed)
    finally:
      consumer.close()
