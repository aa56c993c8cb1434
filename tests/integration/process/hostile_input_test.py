#!/usr/bin/env python3
"""Hostile input against the shipped personalizer: nothing on a topic can
stall it or make it send absurd figures.

Each test starts a devbroker and a personalizer, writes input with an
independent client (confluent_kafka) and checks from outside: the group's
committed offsets (the partition went on), the dead-letter topic, the
changelog and the decision topics.

    hostile_input_test.py --personalizer=BIN --devbroker=BIN --pydir=DIR \
        [unittest arguments, e.g. OutputLimitsTest]
"""

import glob
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DECISIONS_LOG_TOPIC, DLQ_TOPIC, DRAIN_TIMEOUT_S, SHORT_SESSION,
    STOP_TIMEOUT_S, ProcessTestCase, http_get, metrics)

events_pb2 = None  # imported in main()
decision_pb2 = None
profile_pb2 = None

CHANGELOG_TOPIC = "tailor.profiles.changelog"
GROUP = "tailor-hostile"
# What the README's Limits table promises.
DEAD_LETTER_COPY_BYTES = 900_000
DEAD_LETTER_TRUNCATED_BYTES = 64 * 1024
MAX_PROFILE_BYTES = 512 * 1024
MAX_CART_LINES = 100
MAX_AMOUNT_MINOR = 10**12


class HostileCase(ProcessTestCase):
  # Environment variables for the personalizer (TAILOR_<FIELD>).
  ENV = {}

  def setUp(self):
    super().setUp()
    self.start_broker(partitions=1)
    self.personalizer = self.start_personalizer(SHORT_SESSION,
                                                group=GROUP,
                                                env_extra=self.ENV)
    self.wait_ready(self.personalizer)
    self.producer = tailor_process_case.kafka.Producer({
        "bootstrap.servers": self.bootstrap,
        "message.max.bytes": 4 * 1024 * 1024,
        "linger.ms": 5,
    })
    self.produced = 0
    self.t = shop_start_ms()

  def event(self, customer, **payload):
    self.t += 1000
    e = events_pb2.Event(customer_id=customer,
                         event_id=f"{customer}-{self.t}",
                         event_time_ms=self.t)
    for name, value in payload.items():
      getattr(e, name).CopyFrom(value)
    return e

  def send(self, topic, key, value):
    self.producer.produce(topic, key=key, value=value)
    self.producer.poll(0)
    self.produced += 1

  def send_event(self, topic, e):
    self.send(topic, e.customer_id.encode(), e.SerializeToString())

  def drain(self):
    """Waits until the group has committed every record written."""
    self.assertEqual(self.producer.flush(30), 0, "records still unsent")
    self.wait_until(lambda: self.committed_records(GROUP) >= self.produced,
                    f"{GROUP} to commit all {self.produced} input records",
                    timeout=DRAIN_TIMEOUT_S,
                    alive=[self.personalizer])


class OutputLimitsTest(HostileCase):
  """An output larger than a Kafka record used to stop its partition for
  good (retried forever); now no input can make one."""

  def test_an_oversized_input_is_dead_lettered_truncated(self):
    huge = bytes(range(256)) * (1536 * 1024 // 256)  # 1.5 MiB, undecodable
    self.send("clickstream", b"c-huge", huge)
    after = self.event("c-after",
                       page_view=events_pb2.PageView(page_type="home"))
    self.send_event("clickstream", after)
    self.drain()

    dead = self.read_topics([DLQ_TOPIC])[DLQ_TOPIC]
    self.assertEqual(len(dead), 1, "one dead letter")
    headers = dict(dead[0].headers() or [])
    self.assertEqual(headers.get("tailor-truncated"), b"true")
    self.assertEqual(headers.get("tailor-original-value-bytes"),
                     str(len(huge)).encode())
    self.assertEqual(headers.get("tailor-original-key-bytes"), b"6")
    self.assertEqual(dead[0].key(), b"c-huge")
    self.assertEqual(dead[0].value(), huge[:DEAD_LETTER_TRUNCATED_BYTES])
    self.assertIn(b"undecodable", headers.get("tailor-error", b""))

  def test_a_small_dead_letter_keeps_the_whole_original(self):
    bad = b"\xff" * 1000
    self.send("orders", b"c-small", bad)
    self.drain()
    dead = self.read_topics([DLQ_TOPIC])[DLQ_TOPIC]
    self.assertEqual([m.value() for m in dead], [bad])
    self.assertNotIn("tailor-truncated", dict(dead[0].headers() or []))

  def test_thousands_of_cart_lines_keep_the_profile_bounded(self):
    customer = "c-hoarder"
    lines = 3000
    for i in range(lines):
      item = events_pb2.LineItem(product_id=f"p-{i:06d}-" + "x" * 110,
                                 category_id="k-" + "y" * 120,
                                 quantity=1,
                                 unit_price=events_pb2.Money(
                                     minor_units=1999, currency="PLN"))
      self.send_event("clickstream",
                      self.event(customer, cart_add=events_pb2.CartAdd(
                          item=item)))
    self.drain()

    changelog = self.read_topics([CHANGELOG_TOPIC])[CHANGELOG_TOPIC]
    mine = [m for m in changelog if m.key() == customer.encode()]
    self.assertTrue(mine, "no changelog record for the customer")
    for m in mine:
      self.assertLessEqual(len(m.value()), MAX_PROFILE_BYTES)
    last = profile_pb2.CustomerProfile.FromString(mine[-1].value())
    self.assertEqual(len(last.cart.items), MAX_CART_LINES)
    # The newest lines stay; the oldest went first.
    kept = sorted(item.product_id[:8] for item in last.cart.items)
    self.assertEqual(kept[0], f"p-{lines - MAX_CART_LINES:06d}")
    self.assertEqual(kept[-1], f"p-{lines - 1:06d}")
    self.assertEqual(last.cart.value.minor_units, MAX_CART_LINES * 1999)


class MoneyTest(HostileCase):
  """Absurd amounts are dead-lettered; decisions only carry sane figures."""

  def test_absurd_amounts_go_to_the_dlq_and_not_into_decisions(self):
    absurd = [
        events_pb2.LineItem(product_id="p-1",
                            quantity=1,
                            unit_price=events_pb2.Money(
                                minor_units=2**63 - 1, currency="PLN")),
        events_pb2.LineItem(product_id="p-2",
                            quantity=2**31 - 1,
                            unit_price=events_pb2.Money(minor_units=100,
                                                        currency="PLN")),
    ]
    for i, item in enumerate(absurd):
      self.send_event("clickstream",
                      self.event(f"c-rich-{i}",
                                 cart_add=events_pb2.CartAdd(item=item)))
    order = events_pb2.OrderPlaced(
        order_id="o-1",
        total=events_pb2.Money(minor_units=MAX_AMOUNT_MINOR + 1,
                               currency="PLN"))
    self.send_event("orders", self.event("c-rich-9", order_placed=order))
    # A sane customer still gets through.
    sane = events_pb2.LineItem(product_id="p-3",
                               quantity=1,
                               unit_price=events_pb2.Money(minor_units=45000,
                                                           currency="PLN"))
    self.send_event("clickstream",
                    self.event("c-sane", cart_add=events_pb2.CartAdd(item=sane)))
    self.drain()

    records = self.read_topics([DLQ_TOPIC, DECISIONS_LOG_TOPIC])
    errors = sorted(
        dict(m.headers() or []).get("tailor-error", b"").decode()
        for m in records[DLQ_TOPIC])
    self.assertEqual(len(errors), 3, errors)
    self.assertTrue(any("quantity above the maximum" in e for e in errors),
                    errors)
    self.assertEqual(
        sum("above the maximum" in e for e in errors), 3, errors)
    for topic in (DECISIONS_LOG_TOPIC,):
      for m in records[topic]:
        d = decision_pb2.Decision.FromString(m.value())
        self.assertFalse(d.customer_id.startswith("c-rich"), d)
        if d.HasField("cart_reminder"):
          self.assertLessEqual(d.cart_reminder.cart_value.minor_units,
                               MAX_AMOUNT_MINOR)

  def test_unknown_enum_values_are_taken_as_unspecified(self):
    e = self.event("c-future",
                   page_view=events_pb2.PageView(page_type="home"))
    e.context.device = 97  # a device class of a newer schema
    self.send_event("clickstream", e)
    self.drain()
    self.assertEqual(self.read_topics([DLQ_TOPIC])[DLQ_TOPIC], [])
    changelog = self.read_topics([CHANGELOG_TOPIC])[CHANGELOG_TOPIC]
    mine = [m for m in changelog if m.key() == b"c-future"]
    self.assertTrue(mine, "no changelog record for the customer")
    profile = profile_pb2.CustomerProfile.FromString(mine[-1].value())
    self.assertEqual(profile.customer_id, "c-future")
    self.assertEqual(profile.context.device,
                     events_pb2.DEVICE_CLASS_UNSPECIFIED)


# The deployed liveness probe's timeout (deploy/k8s/base/statefulset.yaml).
PROBE_TIMEOUT_S = 3
# The attackers connect from another loopback address than the probes, as a
# pod elsewhere in the cluster would.
ATTACKER = "127.0.0.2"


def rss_bytes(pid):
  with open(f"/proc/{pid}/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) * 1024
  raise AssertionError("no VmRSS")


class HttpAttackTest(ProcessTestCase):
  """The admin port survives what anyone in the cluster can send it: the
  probes keep answering within their timeout and memory stays flat."""

  def setUp(self):
    super().setUp()
    self.start_broker(partitions=1)
    self.p = self.start_personalizer()
    self.wait_ready(self.p)
    self.sockets = []

  def tearDown(self):
    for s in self.sockets:
      s.close()
    super().tearDown()

  def connect(self):
    s = socket.socket()
    s.settimeout(5)
    s.bind((ATTACKER, 0))
    try:
      s.connect(("127.0.0.1", self.p.port))
    except OSError:
      s.close()
      return None
    self.sockets.append(s)
    return s

  def assertProbesAnswer(self):
    for path in ("/healthz", "/readyz"):
      started = time.monotonic()
      status, _ = http_get(self.p.port, path)
      took = time.monotonic() - started
      self.assertEqual(status, 200, path)
      self.assertLess(took, PROBE_TIMEOUT_S, f"{path} took {took:.1f} s")

  def test_slow_and_idle_connections_do_not_starve_the_probes(self):
    slow = []
    for _ in range(60):
      s = self.connect()
      if s is not None:
        try:
          s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never ends
          slow.append(s)
        except OSError:
          pass
    for _ in range(1500):
      self.connect()  # idle; refused ones are fine
    self.assertProbesAnswer()
    # A slow sender is cut off after the idle timeout.
    time.sleep(7)
    closed = 0
    for s in slow:
      try:
        s.sendall(b"X-Slow: 1\r\n")
        closed += s.recv(1) == b""
      except OSError:
        closed += 1
    self.assertEqual(closed, len(slow))
    self.assertProbesAnswer()

  def test_large_bodies_are_refused_unread(self):
    before = rss_bytes(self.p.popen.pid)
    chunk = b"x" * (1 << 20)
    answers = []

    def send_body():
      s = self.connect()
      if s is None:
        return
      try:
        s.sendall(b"POST /nothing HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 314572800\r\n\r\n")
        for _ in range(300):
          s.sendall(chunk)
      except OSError:
        pass  # the server closed it: what we want
      try:
        answers.append(s.recv(100))
      except OSError:
        answers.append(b"")

    threads = [threading.Thread(target=send_body) for _ in range(5)]
    for t in threads:
      t.start()
    self.assertProbesAnswer()
    for t in threads:
      t.join(60)
    growth = rss_bytes(self.p.popen.pid) - before
    self.assertLess(growth, 50 << 20, f"RSS grew by {growth >> 20} MiB")
    self.assertTrue(any(a.startswith(b"HTTP/1.1 405") for a in answers),
                    answers)
    # A GET with a body is refused too, without reading it.
    s = self.connect()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 1000000\r\n\r\n")
    self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 413"))

  def test_many_ranges_are_not_served(self):
    status, body = http_get(self.p.port, "/metrics")
    self.assertEqual(status, 200)
    s = self.connect()
    ranges = ",".join(f"{i}-{i + 2}" for i in range(0, 7800, 3))
    s.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\nRange: bytes={ranges}"
              "\r\nConnection: close\r\n\r\n".encode())
    response = b""
    while True:
      data = s.recv(1 << 16)
      if not data:
        break
      response += data
    # Either refused (headers too large) or answered whole, never 206.
    self.assertFalse(response.startswith(b"HTTP/1.1 206"), response[:100])
    self.assertLess(len(response), 2 * len(body) + 4096)


class StateHealingTest(HostileCase):
  """A state directory RocksDB reports corrupt is moved aside and rebuilt
  from the changelog (on_corrupt_state=rebuild, the default), or refused
  (fail)."""

  def personalizer_again(self, *flags):
    return self.start_personalizer(SHORT_SESSION, *flags, group=GROUP)

  def test_a_corrupt_state_is_rebuilt_from_the_changelog(self):
    for i in range(50):
      self.send_event("clickstream",
                      self.event(f"c-{i}",
                                 page_view=events_pb2.PageView(page_type="home")))
    self.drain()
    self.stop_personalizer(self.personalizer)
    state = os.path.join(self.workdir, "state")
    with open(os.path.join(state, "CURRENT"), "w") as f:
      f.write("this is not a manifest name")

    # on_corrupt_state=fail refuses to start and says why.
    failing = self.start("personalizer-fail", [
        tailor_process_case.ARGS.personalizer,
        f"--bootstrap_file={self.bootstrap_file}", f"--state_dir={state}",
        f"--group_id={GROUP}", "--http_address=off"
    ], env=dict(os.environ, TAILOR_ON_CORRUPT_STATE="fail"))
    self.assertEqual(failing.wait(STOP_TIMEOUT_S), 2, failing.stderr())
    self.assertIn("Corruption", failing.stderr())

    self.personalizer = self.personalizer_again()
    self.wait_ready(self.personalizer)
    self.assertIn("corrupt", self.personalizer.stderr())
    self.assertEqual(metrics(self.personalizer.port)["tailor_state_rebuilt"], 1)
    self.assertEqual(len(glob.glob(os.path.join(state, "corrupt-*"))), 1)
    # The profiles came back from the changelog: a new event counts on top.
    self.send_event("clickstream",
                    self.event("c-7",
                               page_view=events_pb2.PageView(page_type="home")))
    self.drain()
    changelog = self.read_topics([CHANGELOG_TOPIC])[CHANGELOG_TOPIC]
    mine = [m for m in changelog if m.key() == b"c-7"]
    self.assertEqual(profile_pb2.CustomerProfile.FromString(
        mine[-1].value()).events, 2)


class StallTest(HostileCase):
  """A pipeline whose commits cannot become durable fails /healthz after
  max_stall_ms (so the liveness probe acts), and recovers."""

  ENV = {"TAILOR_MAX_STALL_MS": "3000", "TAILOR_BROKER_UNREACHABLE_MS": "3000"}

  def test_readiness_follows_the_broker(self):
    """An idle service with nothing in flight: only the broker's silence
    can make it unready."""
    broker = next(p for p in self.procs if p.name.startswith("devbroker"))
    self.assertEqual(http_get(self.personalizer.port, "/readyz")[0], 200)
    broker.send(signal.SIGSTOP)
    try:
      self.wait_until(
          lambda: http_get(self.personalizer.port, "/readyz")[0] == 503,
          "/readyz to report the silent broker", timeout=20,
          alive=[self.personalizer])
      status, body = http_get(self.personalizer.port, "/readyz")
      self.assertIn("no Kafka broker has answered", body)
      self.assertGreaterEqual(
          metrics(self.personalizer.port)["tailor_broker_silent_seconds"], 3)
      # Alive all the same: nothing is stalled.
      self.assertEqual(http_get(self.personalizer.port, "/healthz")[0], 200)
    finally:
      broker.send(signal.SIGCONT)
    self.wait_until(
        lambda: http_get(self.personalizer.port, "/readyz")[0] == 200,
        "/readyz to recover", timeout=30, alive=[self.personalizer])

  def test_healthz_follows_a_stalled_broker(self):
    broker = next(p for p in self.procs if p.name.startswith("devbroker"))
    for i in range(3000):
      self.send_event("clickstream",
                      self.event(f"c-{i % 300}",
                                 page_view=events_pb2.PageView(page_type="home")))
    self.producer.flush(30)
    self.wait_until(lambda: metrics(self.personalizer.port)
                    ["tailor_events_total"] > 0, "some events processed",
                    alive=[self.personalizer])
    broker.send(signal.SIGSTOP)
    try:
      self.wait_until(
          lambda: http_get(self.personalizer.port, "/healthz")[0] == 503,
          "/healthz to report the stall", timeout=30,
          alive=[self.personalizer])
      status, body = http_get(self.personalizer.port, "/healthz")
      self.assertIn("stalled: no commit became durable", body)
      self.assertGreaterEqual(
          metrics(self.personalizer.port)["tailor_stalled_seconds"], 3)
    finally:
      broker.send(signal.SIGCONT)
    self.wait_until(
        lambda: http_get(self.personalizer.port, "/healthz")[0] == 200,
        "/healthz to recover", timeout=60, alive=[self.personalizer])


class TimerWindowTest(HostileCase):
  """Every pending timer is in the state store; memory holds only a window
  of the next ones, within timer_index_bytes, and every reminder still
  fires when stream time reaches it."""

  ENV = {"TAILOR_TIMER_INDEX_BYTES": "65536", "TAILOR_TIME_SOURCE": "event"}
  CUSTOMERS = 3000

  def test_many_pending_timers_fire_from_a_bounded_window(self):
    for i in range(self.CUSTOMERS):
      item = events_pb2.LineItem(product_id=f"p-{i}", quantity=1,
                                 unit_price=events_pb2.Money(
                                     minor_units=4999, currency="PLN"))
      self.send_event("clickstream",
                      self.event(f"c-{i:05d}",
                                 cart_add=events_pb2.CartAdd(item=item)))
    self.drain()
    m = metrics(self.personalizer.port)
    self.assertEqual(m["tailor_timer_index_limit_bytes"], 65536)
    self.assertLessEqual(m["tailor_timer_index_bytes"], 65536)
    # A window, not every timer: the rest are only in RocksDB.
    self.assertLess(m["tailor_timer_index_entries"], self.CUSTOMERS / 2)

    # Stream time moves three hours on: every first reminder is due.
    self.t += 3 * 3600 * 1000
    self.send_event("clickstream",
                    self.event("c-clock",
                               page_view=events_pb2.PageView(page_type="home")))
    self.drain()
    reminded = set()
    for msg in self.read_topics([DECISIONS_LOG_TOPIC])[DECISIONS_LOG_TOPIC]:
      d = decision_pb2.Decision.FromString(msg.value())
      if d.kind == decision_pb2.DECISION_KIND_CART_REMINDER:
        reminded.add(d.customer_id)
    self.assertEqual(len(reminded), self.CUSTOMERS)
    m = metrics(self.personalizer.port)
    self.assertGreaterEqual(m["tailor_timers_fired_total"], self.CUSTOMERS)
    self.assertLessEqual(m["tailor_timer_index_bytes"], 65536)


class StaleOffsetsTest(ProcessTestCase):
  """A state directory outliving its topics: the input topics are created
  again (a new broker here) and hold more records than the state had read.
  The stored positions look valid; the record before them is not the one
  the state was built from."""

  STATE = "stale-state"

  def produce_views(self, count, prefix):
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap, "linger.ms": 5})
    t = shop_start_ms()
    for i in range(count):
      t += 1000
      e = events_pb2.Event(customer_id=f"{prefix}-{i % 10}",
                           event_id=f"{prefix}-{i}", event_time_ms=t,
                           page_view=events_pb2.PageView(page_type="home"))
      producer.produce("clickstream", key=e.customer_id.encode(),
                       value=e.SerializeToString())
    self.assertEqual(producer.flush(30), 0)

  def state_from_a_first_topic(self):
    self.start_broker(partitions=1)
    self.produce_views(40, "old")
    first = self.start_personalizer(
        SHORT_SESSION, group=GROUP,
        state_dir=os.path.join(self.workdir, self.STATE))
    self.wait_processed(first, 40)
    self.stop_personalizer(first)
    # The topics again, with other records, more than the state read.
    self.start_broker(partitions=1)
    self.produce_views(60, "new")

  def test_a_recreated_topic_is_read_from_its_start(self):
    self.state_from_a_first_topic()
    second = self.start_personalizer(
        SHORT_SESSION, group=GROUP,
        state_dir=os.path.join(self.workdir, self.STATE))
    self.wait_until(lambda: metrics(second.port)["tailor_events_total"] >= 60,
                    "every record of the new topic to be processed",
                    timeout=DRAIN_TIMEOUT_S, alive=[second])
    self.assertEqual(metrics(second.port)["tailor_stale_offsets"], 1)
    self.assertIn("is not the one the state was built from", second.stderr())

  def test_fail_refuses_to_go_on(self):
    self.state_from_a_first_topic()
    second = self.start_personalizer(
        SHORT_SESSION, group=GROUP,
        state_dir=os.path.join(self.workdir, self.STATE),
        env_extra={"TAILOR_ON_STALE_OFFSETS": "fail"})
    rc = second.wait(STOP_TIMEOUT_S + 30)
    self.assertNotEqual(rc, 0)
    self.assertIn("on_stale_offsets: fail", second.stderr())
    self.assertIn("clickstream[0]", second.stderr())


def main():
  global events_pb2, decision_pb2, profile_pb2
  argv = tailor_process_case.parse_command_line(__doc__)
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as d
  from tailor.v1 import events_pb2 as e
  from tailor.v1 import profile_pb2 as p
  events_pb2, decision_pb2, profile_pb2 = e, d, p
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
