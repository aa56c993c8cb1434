#!/usr/bin/env python3
"""Process-level tests of the shipped tailor programs.

devbroker, loadgen and the personalizer run as separate processes, exactly as
an operator runs them, and are checked only from outside: exit codes,
stdout/stderr, signals, the HTTP endpoints and an independent Kafka client
(python3-confluent-kafka) that decodes the outputs with the tailor.v1 Python
modules generated from proto/.

    process_test.py --personalizer=BIN --devbroker=BIN --loadgen=BIN \
        --pydir=DIR --source_dir=REPO [unittest arguments, e.g. HttpTest]

Every process a test starts is killed in tearDown, and is started with a
parent-death signal so that none outlives this runner even if it is killed.
Each test uses its own temporary directory, broker and free ports. Set
TAILOR_KEEP_TEST_DIRS=1 to keep the directories (logs) of failed tests.
"""

import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import PDEATHSIG, read_text, shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    ALL_TOPICS, DECISION_TOPICS, DECISIONS_LOG_TOPIC, DLQ_TOPIC, INPUT_TOPICS,
    SHORT_SESSION, HTTP_PORT_LINE, STOP_TIMEOUT_S, ProcessTestCase, http_get, metric,
    metric_sum, metrics, parse_loadgen)

ARGS = None  # Parsed command line, set in main().
decision_pb2 = None  # tailor.v1 decision module, imported in main().

CUSTOMER_ID = re.compile(r"\bc-\d+\b")  # loadgen's customer ids
DECISION_LINE = re.compile(
    r"^decision (?P<kind>cart_reminder|push|coupon|agent_escalation)"
    r" customer=(?P<customer>c-\d+)"
    r" action=(?P<action>send|hold_out|suppressed)"
    r" campaign=(?P<campaign>[a-z_]+)"
    r"(?: variant=\S+)?"
    r" reasons=(?P<reasons>\S*)"
    r"(?: suppressed_by=\S+)?"
    r" id=(?P<id>[0-9a-f]{12})$")


def free_port():
  """A TCP port nothing listens on (bound, then released)."""
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


class RunSmokeTest(ProcessTestCase):
  """The three programs together, as tools/run.sh runs them."""

  def test_decisions_and_summary(self):
    self.start_broker(partitions=2)
    personalizer = self.start_personalizer("--print_decisions")
    self.wait_ready(personalizer)
    load = self.run_loadgen("--rate=2000", "--duration=20s",
                            "--customers=20000", "--time_scale=240",
                            f"--start_ms={shop_start_ms()}")
    self.assertGreater(load["produced"], 10000)
    self.assertEqual(load["malformed"], 0)
    self.wait_processed(personalizer, load["produced"])

    summary = self.stop_personalizer(personalizer)
    self.assertEqual(summary["events"] + summary["dead_letters"],
                     load["produced"], summary)
    self.assertGreater(summary["events"], 0, summary)
    for kind in ("cart_reminder", "push", "coupon"):
      self.assertGreater(summary[kind], 0, f"no {kind} decisions: {summary}")
    self.assertGreater(summary["timers_fired"], 0, summary)

    # Every decision was printed (no per-second limit was asked for), as one
    # well-formed line.
    stdout = personalizer.stdout()
    lines = [l for l in stdout.splitlines() if l.startswith("decision ")]
    printed = {"cart_reminder": 0, "push": 0, "coupon": 0,
               "agent_escalation": 0}
    for line in lines:
      m = DECISION_LINE.match(line)
      self.assertIsNotNone(m, f"malformed decision line: {line!r}")
      printed[m.group("kind")] += 1
    self.assertEqual(
        printed, {
            "cart_reminder": summary["cart_reminder"],
            "push": summary["push"],
            "coupon": summary["coupon"],
            "agent_escalation": summary["agent"],
        })
    self.assertNotIn("more decision lines not shown", stdout)


class ExternalClientTest(ProcessTestCase):
  """The outputs as a subscriber sees them, through an independent client."""

  def test_decisions_and_dead_letters(self):
    self.start_broker(partitions=2)
    personalizer = self.start_personalizer()
    self.wait_ready(personalizer)
    load = self.run_loadgen("--rate=2000", "--duration=12s",
                            "--customers=20000", "--time_scale=600",
                            "--malformed_percent=1",
                            f"--start_ms={shop_start_ms()}")
    self.assertGreater(load["malformed"], 0)
    self.wait_processed(personalizer, load["produced"])
    summary = self.stop_personalizer(personalizer)
    self.assertEqual(summary["events"] + summary["dead_letters"],
                     load["produced"], summary)

    records = self.read_topics(DECISION_TOPICS +
                               (DECISIONS_LOG_TOPIC, DLQ_TOPIC) + INPUT_TOPICS)

    expected_kinds = {
        "decisions.coupons": decision_pb2.DECISION_KIND_COUPON,
        "decisions.cart-reminders": decision_pb2.DECISION_KIND_CART_REMINDER,
        "decisions.push": decision_pb2.DECISION_KIND_PUSH,
        "decisions.agent-escalations":
            decision_pb2.DECISION_KIND_AGENT_ESCALATION,
    }
    expected_payload = {
        decision_pb2.DECISION_KIND_COUPON: "coupon",
        decision_pb2.DECISION_KIND_CART_REMINDER: "cart_reminder",
        decision_pb2.DECISION_KIND_PUSH: "push",
        decision_pb2.DECISION_KIND_AGENT_ESCALATION: "agent_escalation",
    }
    # The log: every decision exactly once, whatever its action.
    by_kind = {k: 0 for k in expected_payload}
    by_action = collections.Counter()
    logged = {}
    for msg in records[DECISIONS_LOG_TOPIC]:
      where = f"{DECISIONS_LOG_TOPIC}[{msg.partition()}]@{msg.offset()}"
      d = decision_pb2.Decision()
      d.ParseFromString(msg.value())  # Raises DecodeError if malformed.
      self.assertRegex(d.decision_id, r"^[0-9a-f]{32}$", where)
      self.assertNotIn(d.decision_id, logged, f"{where}: logged twice")
      logged[d.decision_id] = msg.value()
      self.assertTrue(d.customer_id, where)
      self.assertEqual(msg.key(), d.customer_id.encode(), where)
      self.assertEqual(d.WhichOneof("payload"), expected_payload[d.kind],
                       where)
      self.assertNotEqual(d.action, decision_pb2.DECISION_ACTION_UNSPECIFIED,
                          where)
      if d.action == decision_pb2.DECISION_ACTION_HOLD_OUT:
        self.assertIn(d.holdout, ("campaign", "global_control"), where)
      self.assertTrue(d.campaign, where)
      self.assertGreater(d.expires_at_ms, d.created_at_ms, where)
      headers = dict(msg.headers() or [])
      self.assertEqual(headers.get("tailor-decision-id"),
                       d.decision_id.encode(), where)
      by_kind[d.kind] += 1
      by_action[d.action] += 1
    # Exactly what the personalizer says it decided reached the log.
    self.assertEqual(
        by_kind, {
            decision_pb2.DECISION_KIND_COUPON: summary["coupon"],
            decision_pb2.DECISION_KIND_CART_REMINDER: summary["cart_reminder"],
            decision_pb2.DECISION_KIND_PUSH: summary["push"],
            decision_pb2.DECISION_KIND_AGENT_ESCALATION: summary["agent"],
        })
    self.assertEqual(by_action[decision_pb2.DECISION_ACTION_SEND],
                     summary["sent"])
    # The run holds some out and suppresses some, so the check below bites.
    self.assertGreater(by_action[decision_pb2.DECISION_ACTION_HOLD_OUT], 0)
    self.assertGreater(by_action[decision_pb2.DECISION_ACTION_SUPPRESSED], 0)

    # The delivery topics: the SEND decisions only, each once, with the
    # same bytes as on the log, on the topic of its kind.
    delivered = set()
    for topic in DECISION_TOPICS:
      if topic != "decisions.agent-escalations":  # rare in a short run
        self.assertGreater(len(records[topic]), 0, f"nothing on {topic}")
      for msg in records[topic]:
        where = f"{topic}[{msg.partition()}]@{msg.offset()}"
        d = decision_pb2.Decision()
        d.ParseFromString(msg.value())
        self.assertEqual(d.action, decision_pb2.DECISION_ACTION_SEND,
                         f"{where}: {decision_pb2.DecisionAction.Name(d.action)}"
                         " on a delivery topic")
        self.assertEqual(d.kind, expected_kinds[topic], where)
        self.assertNotIn(d.decision_id, delivered, f"{where}: sent twice")
        delivered.add(d.decision_id)
        self.assertEqual(logged.get(d.decision_id), msg.value(),
                         f"{where}: not on the log with the same bytes")
        self.assertEqual(msg.key(), d.customer_id.encode(), where)
    self.assertEqual(len(delivered), summary["sent"])

    # Dead letters: the original key and bytes, and where they came from.
    originals = {(m.topic(), m.partition(), m.offset()): m
                 for t in INPUT_TOPICS for m in records[t]}
    dead = records[DLQ_TOPIC]
    self.assertGreater(len(dead), 0, "nothing on tailor.dlq")
    self.assertEqual(len(dead), summary["dead_letters"])
    for msg in dead:
      where = f"{DLQ_TOPIC}[{msg.partition()}]@{msg.offset()}"
      headers = dict(msg.headers() or [])
      for name in ("tailor-source-topic", "tailor-source-partition",
                   "tailor-source-offset", "tailor-error"):
        self.assertIn(name, headers, where)
      topic = headers["tailor-source-topic"].decode()
      self.assertIn(topic, INPUT_TOPICS, where)
      self.assertRegex(headers["tailor-source-partition"].decode(), r"^\d+$")
      self.assertRegex(headers["tailor-source-offset"].decode(), r"^\d+$")
      self.assertTrue(headers["tailor-error"], where)
      source = originals.get((topic, int(headers["tailor-source-partition"]),
                              int(headers["tailor-source-offset"])))
      self.assertIsNotNone(source, f"{where}: no such source record")
      self.assertEqual(msg.value(), source.value(), where)
      self.assertEqual(msg.key(), source.key(), where)

  def test_kcat_lists_topics(self):
    kcat = shutil.which("kcat")
    if kcat is None:
      self.skipTest("kcat is not installed")
    self.start_broker(partitions=2)
    result = subprocess.run([kcat, "-L", "-b", self.bootstrap, "-m", "10"],
                            capture_output=True,
                            text=True,
                            timeout=60)
    self.assertEqual(result.returncode, 0, result.stderr)
    for topic in ALL_TOPICS:
      self.assertIn(f'topic "{topic}" with 2 partitions', result.stdout)


class HttpTest(ProcessTestCase):
  """/healthz, /readyz and /metrics as a kubelet and Prometheus see them."""

  def test_health_readiness_and_metrics(self):
    self.start_broker(partitions=2)
    personalizer = self.start_personalizer()
    status, body = http_get(personalizer.port, "/healthz")
    self.assertEqual(status, 200, body)
    # Not ready before the group gives it partitions. The consumer logs the
    # assignment before the pipeline takes it, so when no "assigned" line is
    # in the log after the request, none was taken before it either.
    status, body = http_get(personalizer.port, "/readyz")
    if "assigned" not in personalizer.stderr():
      self.assertEqual(status, 503, f"ready without partitions: {body}")
    else:
      sys.stderr.write("partitions came before /readyz was asked; the "
                       "not-ready check had nothing to check\n")
    self.wait_ready(personalizer)
    # 3 input topics x 2 partitions, all on the only member.
    self.wait_until(
        lambda: metric(personalizer.port, "tailor_assigned_partitions") == 6,
        "tailor_assigned_partitions to be 6",
        alive=[personalizer])
    self.wait_until(lambda: metric(personalizer.port, "tailor_ready") == 1,
                    "tailor_ready to be 1",
                    alive=[personalizer])
    status, body = http_get(personalizer.port, "/metrics")
    self.assertIn("# TYPE tailor_events_total counter", body)
    self.assertEqual(metric(personalizer.port, "tailor_events_total"), 0)

    loadgen = self.start_loadgen("--rate=1000", "--duration=8s",
                                 "--customers=5000")
    samples = []
    while loadgen.alive():
      samples.append(metric(personalizer.port, "tailor_events_total"))
      time.sleep(0.5)
    self.assertEqual(loadgen.wait(STOP_TIMEOUT_S), 0, loadgen.tail())
    self.assertEqual(samples, sorted(samples), "the counter went down")
    rises = sum(1 for a, b in zip(samples, samples[1:]) if b > a)
    self.assertGreaterEqual(rises, 3,
                            f"tailor_events_total while loading: {samples}")
    produced = parse_loadgen(loadgen.stdout())["produced"]
    self.wait_until(
        lambda: metric(personalizer.port, "tailor_events_total") == produced,
        f"tailor_events_total to reach {produced}",
        alive=[personalizer])
    status, _ = http_get(personalizer.port, "/healthz")
    self.assertEqual(status, 200)
    status, _ = http_get(personalizer.port, "/readyz")
    self.assertEqual(status, 200)


  def test_env_config_json_logs_readiness_reason_and_histograms(self):
    """Configured through TAILOR_* variables only, with JSON logs: /readyz
    says why it is not ready, /metrics has build_info, the histograms and
    the labelled counters, and no log line carries a customer id."""
    self.start_broker(partitions=2)
    env = dict(os.environ,
               TAILOR_BOOTSTRAP_SERVERS=self.bootstrap,
               TAILOR_STATE_DIR=os.path.join(self.workdir, "state"),
               TAILOR_GROUP_ID="tailor-env-test",
               TAILOR_HTTP_ADDRESS="127.0.0.1:0",
               TAILOR_TIME_SOURCE="wall",
               TAILOR_LOG_FORMAT="json")
    p = self.start("personalizer", [ARGS.personalizer], env=env)
    match = self.wait_until(lambda: HTTP_PORT_LINE.search(p.stderr()),
                            "the personalizer to log its HTTP port",
                            alive=[p])
    p.port = int(match.group(1))
    status, body = http_get(p.port, "/readyz")
    if status != 200:
      self.assertEqual(status, 503, body)
      self.assertRegex(body, r"^not ready: \S.*")
    self.wait_ready(p)
    self.run_loadgen("--rate=2000", "--duration=4s", "--customers=300",
                     "--malformed_percent=5")
    self.wait_until(
        lambda: metric_sum(metrics(p.port), "tailor_dead_letters_total") > 0,
        "dead letters to be counted",
        alive=[p])
    self.wait_until(
        lambda: metrics(p.port).get("tailor_commit_seconds_count", 0) > 0,
        "a commit to be timed",
        alive=[p])
    m = metrics(p.port)
    build_info = [k for k in m if k.startswith("tailor_build_info{")]
    self.assertEqual(len(build_info), 1, build_info)
    self.assertRegex(build_info[0], r'revision="[^"]+"')
    self.assertRegex(build_info[0], r'version="\d+\.\d+\.\d+"')
    for histogram in ("tailor_batch_processing_seconds", "tailor_commit_seconds",
                      "tailor_event_to_decision_seconds"):
      self.assertGreater(m[f"{histogram}_count"], 0, histogram)
      self.assertEqual(m[f'{histogram}_bucket{{le="+Inf"}}'],
                       m[f"{histogram}_count"], histogram)
    decisions = [k for k in m if k.startswith("tailor_decisions_total{")]
    self.assertTrue(decisions, "no decision counters")
    for k in decisions:
      self.assertRegex(k, r'action="DECISION_ACTION_\w+"')
      self.assertRegex(k, r'campaign="[a-z_]+"')
      self.assertRegex(k, r'kind="DECISION_KIND_\w+"')
    dead = [k for k in m if k.startswith("tailor_dead_letters_total{")]
    for k in dead:
      self.assertRegex(k, r'error_class="(undecodable|key_mismatch|event_time|'
                       r'missing_field|invalid_value)"')
      self.assertRegex(k, r'source_topic="(clickstream|orders|privacy)"')

    self.stop_personalizer(p)
    lines = [l for l in p.stderr().splitlines() if l.strip()]
    self.assertGreater(len(lines), 3)
    for line in lines:
      entry = json.loads(line)  # One JSON object per line.
      self.assertEqual(sorted(entry), ["level", "logger", "msg", "time"], line)
      self.assertEqual(entry["logger"], "personalizer")
      self.assertNotRegex(entry["msg"], CUSTOMER_ID, "a customer id in the log")
    sys.stderr.write(f"a JSON log line: {lines[0]}\n")


class CommandLineTest(ProcessTestCase):
  """--help, --version and log levels of the shipped programs; no broker."""

  def run_program(self, argv, env=None):
    return subprocess.run(PDEATHSIG + argv,
                          capture_output=True,
                          text=True,
                          timeout=60,
                          cwd=self.workdir,
                          env=env)

  def test_help_lists_each_programs_own_flags(self):
    own = {
        ARGS.personalizer: ("--config", "--bootstrap_servers",
                            "--kafka_consumer_property"),
        ARGS.devbroker: ("--partitions", "--bootstrap_file"),
        ARGS.loadgen: ("--rate", "--customers"),
    }
    for program, flags in own.items():
      name = os.path.basename(program)
      result = self.run_program([program, "--help"])
      out = result.stdout + result.stderr
      self.assertNotIn("No flags matched", out, name)
      self.assertIn(f"Usage: {name} ", out)
      for flag in flags + ("--log_level", "--log_format"):
        self.assertIn(flag, out, f"{name} --help")
      # Abseil's own flags are for --helpfull only.
      self.assertNotIn("--flagfile", out, f"{name} --help")

  def test_version(self):
    for program in (ARGS.personalizer, ARGS.devbroker, ARGS.loadgen):
      name = os.path.basename(program)
      result = self.run_program([program, "--version"])
      self.assertEqual(result.returncode, 0, result.stderr)
      self.assertRegex(result.stdout,
                       rf"^{name} \d+\.\d+\.\d+ \(git \S+, \w+\)\n$")
      self.assertNotIn("NDEBUG", result.stdout)

  def test_log_level_any_case_keeps_the_fatal_message(self):
    result = self.run_program([
        ARGS.personalizer, "--log_level=INFO", "--max_batch_events=-1",
        "--bootstrap_servers=127.0.0.1:1", f"--state_dir={self.workdir}/s"
    ])
    self.assertEqual(result.returncode, 2, result.stderr)
    self.assertIn("refusing to start: max_batch_events", result.stderr)

  def test_unknown_log_level_is_refused(self):
    for argv, env in (
        (["--log_level=verbose"], None),
        ([], dict(os.environ, TAILOR_LOG_LEVEL="loud")),
        (["--log_format=xml"], None),
    ):
      result = self.run_program([ARGS.personalizer, *argv], env=env)
      self.assertEqual(result.returncode, 2, (argv, result.stderr))
      self.assertRegex(result.stderr, r"refusing to start: log_(level|format)")
      self.assertRegex(result.stderr, r"unknown log (level|format)")


class BadConfigurationTest(ProcessTestCase):
  """A bad configuration is refused at start, with exit code 2 and a message
  naming the field; no broker is needed to find out."""

  def refused(self, *flags, env=None):
    """Runs the personalizer, expects exit code 2; returns its stderr."""
    result = subprocess.run(PDEATHSIG + [ARGS.personalizer, *flags],
                            capture_output=True,
                            text=True,
                            timeout=60,
                            cwd=self.workdir,
                            env=env)
    self.assertEqual(result.returncode, 2, result.stderr)
    self.assertIn("refusing to start", result.stderr)
    self.assertNotIn("summary:", result.stdout)
    return result.stderr

  def write(self, name, text):
    path = os.path.join(self.workdir, name)
    with open(path, "w") as f:
      f.write(text)
    return path

  def config(self, extra):
    # A bootstrap address nothing listens on: a config that passed would be
    # refused later, for the broker, with a message not naming the field.
    return self.write(
        "personalizer.yaml", f"bootstrap_servers: 127.0.0.1:{free_port()}\n"
        f"state_dir: {self.workdir}/state\n"
        f"http_address: \"off\"\n{extra}")

  def test_negative_max_batch_events(self):
    stderr = self.refused(f"--config={self.config('max_batch_events: -1')}")
    self.assertIn("max_batch_events: must be in [1, 1000000], got -1", stderr)

  def test_worker_threads_out_of_range(self):
    stderr = self.refused(f"--config={self.config('worker_threads: 65')}")
    self.assertIn("worker_threads: must be in [0, 64], got 65", stderr)
    stderr = self.refused(f"--config={self.config('')}", "--worker_threads=-3")
    self.assertIn("worker_threads: must be in [0, 64], got -3", stderr)

  def test_unknown_field(self):
    stderr = self.refused(f"--config={self.config('max_batch_event: 5')}")
    self.assertIn('unknown field "max_batch_event"', stderr)

  def test_missing_bootstrap_servers(self):
    path = self.write("personalizer.yaml",
                      f"state_dir: {self.workdir}/state\n")
    stderr = self.refused(f"--config={path}")
    self.assertIn("bootstrap_servers", stderr)

  def test_values_are_checked_before_waiting_for_the_bootstrap_file(self):
    # The bootstrap file never appears: a check made after waiting for it
    # would fail on it instead of naming the bad value.
    missing = f"--bootstrap_file={self.workdir}/never-written"
    state = f"--state_dir={self.workdir}/state"
    stderr = self.refused(missing, state,
                          "--kafka_consumer_property=no.such.property=1")
    self.assertIn("kafka_consumer_property", stderr)
    self.assertIn("no.such.property", stderr)
    stderr = self.refused(missing, state, "--max_batch_events=-1")
    self.assertIn("max_batch_events: must be in", stderr)
    self.assertNotIn("bootstrap_file", stderr)

  def test_environment_variables(self):
    env = dict(os.environ, TAILOR_MAX_BATCH_EVENTS="-1")
    stderr = self.refused(f"--config={self.config('')}", env=env)
    self.assertIn("max_batch_events: must be in [1, 1000000], got -1", stderr)
    env = dict(os.environ, TAILOR_TOPICS_CLICKSTREAM="bad topic!")
    stderr = self.refused(f"--config={self.config('')}", env=env)
    self.assertIn("topics.clickstream", stderr)
    env = dict(os.environ, TAILOR_MAX_BATCH_MS="soon")
    stderr = self.refused(f"--config={self.config('')}", env=env)
    self.assertIn("TAILOR_MAX_BATCH_MS", stderr)
    # A flag overrides the environment.
    env = dict(os.environ, TAILOR_MAX_BATCH_EVENTS="-1")
    stderr = self.refused(f"--config={self.config('')}",
                          "--max_batch_events=-7", env=env)
    self.assertIn("got -7", stderr)

  def test_invalid_rules_file(self):
    rules = read_text(os.path.join(ARGS.source_dir, "libs", "decide",
                                   "rules.example.yaml"))
    bad = rules.replace("first_reminder_minutes: 60",
                        "first_reminder_minutes: -5")
    self.assertNotEqual(bad, rules)
    stderr = self.refused(f"--config={self.config('')}",
                          f"--rules={self.write('rules.yaml', bad)}")
    self.assertIn("abandoned_cart.first_reminder_minutes", stderr)


class HotReloadTest(ProcessTestCase):
  """SIGHUP reloads the rules file; an invalid file is refused and the old
  rules keep running."""

  def test_sighup_reload(self):
    example = read_text(
        os.path.join(ARGS.source_dir, "libs", "decide", "rules.example.yaml"))
    marker = "browse_abandonment:\n  common:\n    name: browse_abandonment\n" \
             "    enabled: true\n"
    self.assertIn(marker, example)
    rules_path = os.path.join(self.workdir, "rules.yaml")

    def write_rules(text):
      tmp = rules_path + ".tmp"
      with open(tmp, "w") as f:
        f.write(text)
      os.replace(tmp, rules_path)

    write_rules(example)
    self.start_broker(partitions=2)
    personalizer = self.start_personalizer("--print_decisions",
                                           f"--rules={rules_path}")
    self.wait_ready(personalizer)
    seeds = iter(range(1, 100))
    processed = 0

    def browse_lines_during_load():
      """Runs a load phase; returns (decision lines, browse_abandonment
      lines) printed during it."""
      nonlocal processed
      before = len(personalizer.stdout())
      load = self.run_loadgen("--count=20000", "--rate=0",
                              "--customers=5000", f"--seed={next(seeds)}",
                              f"--start_ms={shop_start_ms()}")
      processed += load["produced"]
      self.wait_processed(personalizer, processed)
      lines = [
          l for l in personalizer.stdout()[before:].splitlines()
          if l.startswith("decision ")
      ]
      return (len(lines),
              sum(1 for l in lines if "campaign=browse_abandonment " in l))

    decisions, browse = browse_lines_during_load()
    self.assertGreater(browse, 0, "the example rules make browse decisions")

    # Invalid: refused, the process keeps running the old rules.
    write_rules(
        example.replace("first_reminder_minutes: 60",
                        "first_reminder_minutes: -5"))
    personalizer.send(signal.SIGHUP)
    self.wait_until(lambda: "rules reload refused" in personalizer.stderr(),
                    "the invalid rules to be refused",
                    alive=[personalizer])
    refusal = [
        l for l in personalizer.stderr().splitlines()
        if "rules reload refused" in l
    ]
    self.assertEqual(len(refusal), 1)
    self.assertIn("abandoned_cart.first_reminder_minutes", refusal[0])
    self.assertTrue(personalizer.alive())
    self.assertEqual(http_get(personalizer.port, "/readyz")[0], 200)
    self.assertNotIn("rules reloaded", personalizer.stderr())
    decisions, browse = browse_lines_during_load()
    self.assertGreater(browse, 0, "the old rules must keep running")

    # Valid, with browse abandonment switched off: taken.
    write_rules(
        example.replace(marker, marker.replace("enabled: true",
                                               "enabled: false")))
    personalizer.send(signal.SIGHUP)
    self.wait_until(lambda: "rules reloaded" in personalizer.stderr(),
                    "the valid rules to be reloaded",
                    alive=[personalizer])
    # The log says which rules run: the start line, then the reload.
    loaded = re.findall(r"rules ([0-9a-f]{16}) loaded from (\S+)",
                        personalizer.stderr())
    self.assertEqual(len(loaded), 2, personalizer.stderr())
    self.assertEqual([path for _, path in loaded], [rules_path] * 2)
    self.assertNotEqual(loaded[0][0], loaded[1][0])
    self.assertIn(f"(were {loaded[0][0]})", personalizer.stderr())
    decisions, browse = browse_lines_during_load()
    self.assertGreater(decisions, 0)
    self.assertEqual(browse, 0, "browse_abandonment was disabled")
    self.assertEqual(http_get(personalizer.port, "/readyz")[0], 200)
    self.stop_personalizer(personalizer)


class GracefulShutdownTest(ProcessTestCase):
  """SIGTERM commits: a restart on the same state and group neither
  re-processes nor loses events."""

  def test_restart_continues_where_it_stopped(self):
    self.start_broker(partitions=2)
    state = os.path.join(self.workdir, "state")
    group = "tailor-restart-test"

    first = self.start_personalizer(SHORT_SESSION, state_dir=state, group=group)
    self.wait_ready(first)
    phase1 = self.run_loadgen("--count=6000", "--rate=0", "--seed=1",
                              "--customers=3000")
    self.assertEqual(phase1["produced"], 6000)
    self.wait_processed(first, 6000)
    summary1 = self.stop_personalizer(first)
    self.assertEqual(summary1["events"], 6000, summary1)
    self.assertEqual(summary1["dead_letters"], 0, summary1)
    self.assertEqual(self.committed_records(group), 6000,
                     "input offsets committed to the group at shutdown")

    # Produced while no personalizer runs.
    phase2 = self.run_loadgen("--count=4000", "--rate=0", "--seed=2",
                              "--customers=3000")
    self.assertEqual(phase2["produced"], 4000)

    second = self.start_personalizer(SHORT_SESSION,
                                     state_dir=state,
                                     group=group)
    self.wait_processed(second, 4000)
    # Anything re-read would show up here; give it the time to.
    time.sleep(2)
    # The state directory was kept: nothing was restored from the changelog
    # (a StatefulSet rollout on the same volume costs no restore).
    restored = metrics(second.port)
    self.assertEqual(restored["tailor_restores"], 0, "partitions restored")
    self.assertEqual(restored["tailor_restored_records"], 0)
    summary2 = self.stop_personalizer(second)
    self.assertEqual(summary2["events"], 4000, summary2)
    self.assertEqual(summary2["dead_letters"], 0, summary2)
    self.assertEqual(self.committed_records(group), 10000)


def main():
  global ARGS, decision_pb2
  argv = tailor_process_case.parse_command_line(__doc__.splitlines()[0])
  ARGS = tailor_process_case.ARGS
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as generated
  decision_pb2 = generated
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
