#!/usr/bin/env python3
"""Privacy and secured Kafka, through the shipped personalizer.

    privacy_test.py --personalizer=BIN --devbroker=BIN --pydir=DIR \
        [unittest arguments, e.g. ErasureTest]
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DECISIONS_LOG_TOPIC, DRAIN_TIMEOUT_S, SHORT_SESSION, STOP_TIMEOUT_S,
    ProcessTestCase, metrics)

events_pb2 = None  # imported in main()
decision_pb2 = None

CHANGELOG_TOPIC = "tailor.profiles.changelog"
GROUP = "tailor-privacy"
CLIENT_NAME = re.compile(r" D personalizer: librdkafka (rdkafka#\w+-\d+) ")


class ErasureTest(ProcessTestCase):

  def test_the_changelog_tombstone_is_null(self):
    self.start_broker(partitions=1)
    p = self.start_personalizer(SHORT_SESSION, group=GROUP)
    self.wait_ready(p)
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap})
    t = shop_start_ms()
    view = events_pb2.Event(customer_id="c-gone", event_id="e1",
                            event_time_ms=t,
                            page_view=events_pb2.PageView(page_type="home"))
    erase = events_pb2.Event(
        customer_id="c-gone", event_id="e2", event_time_ms=t + 60000,
        erasure_requested=events_pb2.ErasureRequested(request_id="dsr-1"))
    producer.produce("clickstream", key=b"c-gone",
                     value=view.SerializeToString())
    producer.flush(30)
    producer.produce("privacy", key=b"c-gone", value=erase.SerializeToString())
    producer.flush(30)
    self.wait_until(lambda: self.committed_records(GROUP) >= 2,
                    "both records committed", timeout=DRAIN_TIMEOUT_S,
                    alive=[p])
    changelog = self.read_topics([CHANGELOG_TOPIC])[CHANGELOG_TOPIC]
    mine = [m for m in changelog if m.key() == b"c-gone"]
    self.assertTrue(mine, "no changelog record for the customer")
    # A null value, which compaction removes, not an empty one.
    self.assertIsNone(mine[-1].value())

  def test_erasure_leaves_nothing_and_late_events_do_not_resurrect(self):
    self.start_broker(partitions=1)
    state = os.path.join(self.workdir, "state")
    p = self.start_personalizer(SHORT_SESSION, group=GROUP, state_dir=state)
    self.wait_ready(p)
    producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap})
    t = shop_start_ms()
    c = "c-erased-42"

    def send(topic, e):
      producer.produce(topic, key=c.encode(), value=e.SerializeToString())
      producer.flush(30)

    item = events_pb2.LineItem(product_id="p-1", quantity=1,
                               unit_price=events_pb2.Money(minor_units=9900,
                                                           currency="PLN"))
    send("privacy", events_pb2.Event(
        customer_id=c, event_id="e0", event_time_ms=t,
        consent_updated=events_pb2.ConsentUpdated(
            granted_channels=[events_pb2.CHANNEL_PUSH])))
    # The cart sets reminder timers (in the timers column family).
    send("clickstream", events_pb2.Event(
        customer_id=c, event_id="e1", event_time_ms=t + 1000,
        cart_add=events_pb2.CartAdd(item=item)))
    send("privacy", events_pb2.Event(
        customer_id=c, event_id="e2", event_time_ms=t + 60000,
        erasure_requested=events_pb2.ErasureRequested(request_id="dsr-42")))
    self.wait_until(
        lambda: metrics(p.port).get("tailor_profiles_erased_total", 0) == 1,
        "the erasure to be processed", alive=[p])
    # Dated before the erasure, read after it: must not bring c back.
    send("clickstream", events_pb2.Event(
        customer_id=c, event_id="e3", event_time_ms=t + 30000,
        page_view=events_pb2.PageView(page_type="home")))
    self.wait_until(lambda: self.committed_records(GROUP) >= 4,
                    "every record committed", timeout=DRAIN_TIMEOUT_S,
                    alive=[p])
    self.wait_until(
        lambda: metrics(p.port)["tailor_erased_events_dropped_total"] == 1,
        "the late event to be dropped", alive=[p])
    self.stop_personalizer(p)

    changelog = self.read_topics([CHANGELOG_TOPIC])[CHANGELOG_TOPIC]
    mine = [m for m in changelog if m.key() == c.encode()]
    self.assertIsNone(mine[-1].value(), "the last record is the tombstone")
    decisions = self.read_topics([DECISIONS_LOG_TOPIC])
    for topic in (DECISIONS_LOG_TOPIC,):
      for m in decisions[topic]:
        d = decision_pb2.Decision.FromString(m.value())
        if d.customer_id != c:
          continue
        # Nothing after the erasure: no late event, no leftover timer.
        self.assertLess(d.created_at_ms, t + 60000, d)
        self.assertNotEqual(d.trigger_event_id, "e3", d)

    ldb = shutil.which("ldb") or shutil.which("rocksdb_ldb")
    if ldb is None:
      self.skipTest("ldb (rocksdb-tools) is not installed")
    families = subprocess.run([ldb, f"--db={state}", "list_column_families"],
                              capture_output=True, text=True, check=True)
    names = re.findall(r"[\w.-]+", families.stdout.split(":", 1)[-1])
    self.assertIn("timers", names, families.stdout)
    for family in names:
      dump = subprocess.run(
          [ldb, f"--db={state}", f"--column_family={family}", "scan",
           "--hex"], capture_output=True, text=True, check=True)
      self.assertNotIn(c.encode().hex().upper(), dump.stdout.upper(),
                       f"{c} still in column family {family}")


class SecuredKafkaTest(ProcessTestCase):
  """kafka_properties reach every client; secrets come from files."""

  def config(self, text):
    path = os.path.join(self.workdir, "personalizer.yaml")
    with open(path, "w") as f:
      f.write(text)
    return f"--config={path}"

  def test_every_client_gets_the_kafka_properties(self):
    self.start_broker(partitions=1)
    secret = os.path.join(self.workdir, "password")
    with open(secret, "w") as f:
      f.write("s3cret-value\n")
    p = self.start_personalizer(
        SHORT_SESSION, "--log_level=debug",
        self.config("kafka_properties:\n  debug: generic\n"
                    "kafka_property_files:\n"
                    f"  sasl.password: {secret}\n"),
        group=GROUP)
    self.wait_ready(p)
    clients = set(CLIENT_NAME.findall(p.stderr()))
    # The admin client, the producer, the changelog reader and the group
    # consumer each logged with the debug setting.
    self.assertGreaterEqual(len(clients), 4, clients)
    self.assertTrue(any("producer" in c for c in clients), clients)
    self.assertGreaterEqual(sum("consumer" in c for c in clients), 2, clients)
    self.assertNotIn("s3cret-value", p.stderr() + p.stdout())

  def start_with_config(self, text):
    """A personalizer on this test's broker with config file `text`, no
    HTTP (it is expected to refuse to start)."""
    self.start_broker(partitions=1)
    return self.start("personalizer", [
        tailor_process_case.ARGS.personalizer,
        f"--bootstrap_file={self.bootstrap_file}",
        f"--state_dir={self.workdir}/state", "--http_address=off",
        self.config(text)
    ])

  def test_a_missing_secret_file_is_refused_by_name(self):
    p = self.start_with_config("kafka_property_files:\n"
                               "  sasl.password: /nonexistent/password\n")
    self.assertEqual(p.wait(STOP_TIMEOUT_S), 2, p.stderr())
    self.assertIn('kafka_property_files["sasl.password"]', p.stderr())

  def test_tls_against_a_plaintext_broker_fails_closed(self):
    p = self.start_with_config("kafka_properties:\n  security.protocol: ssl\n")
    rc = p.wait(60)
    self.assertNotEqual(rc, 0, "started against a plaintext broker")
    self.assertIn("refusing to start", p.stderr())


def main():
  global events_pb2, decision_pb2
  argv = tailor_process_case.parse_command_line(__doc__)
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as d
  from tailor.v1 import events_pb2 as e
  events_pb2, decision_pb2 = e, d
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
