#!/usr/bin/env python3
"""Privacy and secured Kafka, through the shipped personalizer.

    privacy_test.py --personalizer=BIN --devbroker=BIN --pydir=DIR \
        [unittest arguments, e.g. ErasureTest]
"""

import hashlib
import hmac
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
audit_pb2 = None
profile_pb2 = None

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

  def test_a_missing_audit_salt_file_is_refused_by_name(self):
    p = self.start_with_config("audit_salt_file: /nonexistent/salt\n")
    self.assertEqual(p.wait(STOP_TIMEOUT_S), 2, p.stderr())
    self.assertIn("audit_salt_file: cannot read /nonexistent/salt",
                  p.stderr())

  def test_tls_against_a_plaintext_broker_fails_closed(self):
    p = self.start_with_config("kafka_properties:\n  security.protocol: ssl\n")
    rc = p.wait(60)
    self.assertNotEqual(rc, 0, "started against a plaintext broker")
    self.assertIn("refusing to start", p.stderr())


AUDIT_TOPIC = "tailor.audit"
SALT = b"audit-salt-for-tests"


def customer_hash(customer_id):
  return hmac.new(SALT, customer_id.encode(), hashlib.sha256).hexdigest()


class PrivacyCase(ProcessTestCase):
  """A personalizer on one partition with a config file, and helpers to
  send one customer's events and read what tailor wrote."""

  def start_with(self, config_text, state_dir=None):
    salt = os.path.join(self.workdir, "audit-salt")
    with open(salt, "wb") as f:
      f.write(SALT + b"\n")
    path = os.path.join(self.workdir, "personalizer.yaml")
    with open(path, "w") as f:
      f.write(f"audit_salt_file: {salt}\n" + config_text)
    self.start_broker(partitions=1)
    p = self.start_personalizer(SHORT_SESSION, f"--config={path}",
                                group=GROUP, state_dir=state_dir)
    self.wait_ready(p)
    self.producer = tailor_process_case.kafka.Producer(
        {"bootstrap.servers": self.bootstrap})
    self.sent = 0
    return p

  def send(self, topic, **event):
    e = events_pb2.Event(**event)
    self.producer.produce(topic, key=e.customer_id.encode(),
                          value=e.SerializeToString())
    self.producer.flush(30)
    self.sent += 1

  def wait_committed(self, p):
    self.wait_until(lambda: self.committed_records(GROUP) >= self.sent,
                    f"all {self.sent} records committed",
                    timeout=DRAIN_TIMEOUT_S, alive=[p])

  def audit_records(self):
    return [(m.key(), m.value(), audit_pb2.AuditRecord.FromString(m.value()))
            for m in self.read_topics([AUDIT_TOPIC])[AUDIT_TOPIC]]

  def last_changelog_value(self, customer_id):
    changelog = self.read_topics([CHANGELOG_TOPIC])[CHANGELOG_TOPIC]
    mine = [m for m in changelog if m.key() == customer_id.encode()]
    self.assertTrue(mine, f"no changelog record of {customer_id}")
    return mine[-1].value()


def cart_add(product, price):
  return events_pb2.CartAdd(item=events_pb2.LineItem(
      product_id=product, category_id="shoes", quantity=1,
      unit_price=events_pb2.Money(minor_units=price, currency="PLN")))


def view(product):
  return events_pb2.ProductView(product_id=product, category_id="shoes")


class AuditTest(PrivacyCase):
  """Erasures, consent changes and opt-outs on the audit topic, naming the
  customer only by the keyed hash."""

  def test_privacy_actions_are_audited_without_the_id(self):
    p = self.start_with("")
    t = shop_start_ms()
    self.send("privacy", customer_id="c-audit-1", event_id="e1",
              event_time_ms=t, consent_updated=events_pb2.ConsentUpdated(
                  granted_channels=[events_pb2.CHANNEL_PUSH]))
    self.send("privacy", customer_id="c-audit-1", event_id="e2",
              event_time_ms=t + 1000, consent_updated=events_pb2.ConsentUpdated(
                  granted_channels=[events_pb2.CHANNEL_PUSH],
                  profiling_opt_out=True))
    self.send("clickstream", customer_id="c-audit-2", event_id="e3",
              event_time_ms=t + 2000, product_view=view("p-1"))
    self.send("privacy", customer_id="c-audit-2", event_id="e4",
              event_time_ms=t + 3000, erasure_requested=events_pb2.
              ErasureRequested(request_id="dsr-2026-17"))
    self.wait_committed(p)
    self.wait_until(lambda: len(self.audit_records()) >= 4,
                    "four audit records", alive=[p])
    records = self.audit_records()
    A = audit_pb2
    self.assertEqual(
        [(k.decode(), r.action, r.event_time_ms) for k, _, r in records],
        [(customer_hash("c-audit-1"), A.AUDIT_ACTION_CONSENT_CHANGED, t),
         (customer_hash("c-audit-1"), A.AUDIT_ACTION_CONSENT_CHANGED,
          t + 1000),
         (customer_hash("c-audit-1"), A.AUDIT_ACTION_PROFILING_OPTED_OUT,
          t + 1000),
         (customer_hash("c-audit-2"), A.AUDIT_ACTION_ERASED, t + 3000)])
    for key, value, r in records:
      # Neither the key nor any byte of the value holds a raw id.
      for raw in (b"c-audit-1", b"c-audit-2"):
        self.assertNotIn(raw, key + value)
      self.assertEqual(r.customer_hash, key.decode())
      self.assertEqual(len(r.audit_id), 32)
      self.assertTrue(r.instance)
      self.assertGreaterEqual(r.processed_at_ms, r.event_time_ms)
      self.assertEqual(r.source_topic, "privacy")
    erased = records[3][2]
    self.assertEqual(erased.request_id, "dsr-2026-17")
    self.assertEqual(erased.event_time_ms, t + 3000)
    self.assertEqual(list(records[0][2].channels), [events_pb2.CHANNEL_PUSH])
    self.assertEqual(len({r.audit_id for _, _, r in records}), 4)
    self.assertEqual(metrics(p.port)["tailor_audit_records_total"], 4)
    self.stop_personalizer(p)


class OptOutTest(PrivacyCase):
  """A profiling opt-out clears the profile on the changelog and its timers
  in the state, and later behaviour is not recorded."""

  def test_opt_out_clears_signals(self):
    state = os.path.join(self.workdir, "state")
    p = self.start_with("", state_dir=state)
    t = shop_start_ms()
    c = "c-opt-out-5"
    self.send("privacy", customer_id=c, event_id="e0", event_time_ms=t,
              consent_updated=events_pb2.ConsentUpdated(
                  granted_channels=[events_pb2.CHANNEL_PUSH]))
    self.send("clickstream", customer_id=c, event_id="e1",
              event_time_ms=t + 1000, product_view=view("p-7"))
    self.send("clickstream", customer_id=c, event_id="e2",
              event_time_ms=t + 2000, cart_add=cart_add("p-7", 25000))
    self.wait_committed(p)
    before = profile_pb2.CustomerProfile.FromString(
        self.last_changelog_value(c))
    # The control: there were signals and timers to clear.
    self.assertTrue(before.product_affinity)
    self.assertTrue(before.cart.items)
    self.assertTrue(before.pending_timers)

    self.send("privacy", customer_id=c, event_id="e3", event_time_ms=t + 3000,
              consent_updated=events_pb2.ConsentUpdated(
                  granted_channels=[events_pb2.CHANNEL_PUSH],
                  profiling_opt_out=True))
    self.send("clickstream", customer_id=c, event_id="e4",
              event_time_ms=t + 4000, product_view=view("p-8"))
    self.wait_committed(p)
    after = profile_pb2.CustomerProfile.FromString(
        self.last_changelog_value(c))
    expected = profile_pb2.CustomerProfile(
        customer_id=c, consented_channels=[events_pb2.CHANNEL_PUSH],
        profiling_opt_out=True)
    self.assertEqual(after, expected)
    self.stop_personalizer(p)
    # No timer of the customer is left in the state.
    ldb = shutil.which("ldb") or shutil.which("rocksdb_ldb")
    if ldb is None:
      self.skipTest("ldb (rocksdb-tools) is not installed")
    dump = subprocess.run([ldb, f"--db={state}", "--column_family=timers",
                           "scan", "--hex"], capture_output=True, text=True,
                          check=True)
    self.assertNotIn(c.encode().hex().upper(), dump.stdout.upper())


class RetentionTest(PrivacyCase):
  """A profile untouched for profile_retention_days goes with a tombstone
  when stream time passes a UTC midnight; an active one stays."""

  def test_retention_removes_an_idle_profile(self):
    p = self.start_with("profile_retention_days: 1\n")
    day = 24 * 3600 * 1000
    t = shop_start_ms() - 4 * day
    self.send("clickstream", customer_id="c-idle", event_id="e1",
              event_time_ms=t, product_view=view("p-1"))
    self.send("privacy", customer_id="c-opted-out", event_id="e2",
              event_time_ms=t, consent_updated=events_pb2.ConsentUpdated(
                  profiling_opt_out=True))
    self.send("clickstream", customer_id="c-active", event_id="e3",
              event_time_ms=t + 1000, product_view=view("p-2"))
    # A day later only c-active comes back: the sweep at midnight found
    # nobody untouched for a whole day yet.
    self.send("clickstream", customer_id="c-active", event_id="e4",
              event_time_ms=t + day, product_view=view("p-2"))
    self.wait_committed(p)
    self.assertIsNotNone(self.last_changelog_value("c-idle"))
    self.assertEqual(metrics(p.port)["tailor_profiles_expired_total"], 0)
    # The next midnights: c-idle is past retention, c-active never is.
    self.send("clickstream", customer_id="c-active", event_id="e5",
              event_time_ms=t + 2 * day, product_view=view("p-3"))
    self.send("clickstream", customer_id="c-active", event_id="e6",
              event_time_ms=t + 3 * day, product_view=view("p-3"))
    self.wait_committed(p)
    self.wait_until(
        lambda: metrics(p.port)["tailor_profiles_expired_total"] == 1,
        "the idle profile to expire", alive=[p])
    self.assertIsNone(self.last_changelog_value("c-idle"), "no tombstone")
    active = profile_pb2.CustomerProfile.FromString(
        self.last_changelog_value("c-active"))
    self.assertEqual(active.events, 4)  # never expired in between
    # An opt-out is kept to honour it.
    self.assertIsNotNone(self.last_changelog_value("c-opted-out"))
    expired = [r for _, _, r in self.audit_records()
               if r.action == audit_pb2.AUDIT_ACTION_RETENTION_EXPIRED]
    self.assertEqual([r.customer_hash for r in expired],
                     [customer_hash("c-idle")])
    self.stop_personalizer(p)


class PhysicalRemovalTest(PrivacyCase):
  """After an erasure and the purge that follows within
  purge_interval_seconds, no SST, WAL or MANIFEST file of the state holds
  the id."""

  def files_holding(self, ldb, state, needle):
    """The state's files that hold `needle`: WAL and MANIFEST files by their
    raw bytes (not compressed), SST files through ldb idump, which lists
    every internal entry (old values and tombstones too) of a column
    family."""
    found = []
    for name in sorted(os.listdir(state)):
      if name.endswith(".log") or name.startswith("MANIFEST-"):
        with open(os.path.join(state, name), "rb") as f:
          if needle in f.read():
            found.append(name)
    for family in ("profiles", "timers"):
      dump = subprocess.run([ldb, f"--db={state}", f"--column_family={family}",
                             "idump", "--hex"], capture_output=True, text=True,
                            check=True)
      if needle.hex().upper() in dump.stdout.upper():
        found.append(f"SST of {family}")
    return found

  def test_an_erased_id_leaves_every_file(self):
    ldb = shutil.which("ldb") or shutil.which("rocksdb_ldb")
    if ldb is None:
      self.skipTest("ldb (rocksdb-tools) is not installed")
    state = os.path.join(self.workdir, "state")
    p = self.start_with("purge_interval_seconds: 1\n", state_dir=state)
    t = shop_start_ms()
    for c in ("c-kept-77", "c-gone-77"):
      self.send("privacy", customer_id=c, event_id=f"{c}-0", event_time_ms=t,
                consent_updated=events_pb2.ConsentUpdated(
                    granted_channels=[events_pb2.CHANNEL_PUSH]))
      self.send("clickstream", customer_id=c, event_id=f"{c}-1",
                event_time_ms=t + 1000, cart_add=cart_add("p-9", 30000))
    self.wait_committed(p)
    self.send("privacy", customer_id="c-gone-77", event_id="e-erase",
              event_time_ms=t + 2000, erasure_requested=events_pb2.
              ErasureRequested(request_id="dsr-77"))
    self.wait_committed(p)
    purges = metrics(p.port).get("tailor_state_purges_total", 0)
    self.wait_until(
        lambda: metrics(p.port)["tailor_state_purges_total"] > purges,
        "a purge after the erasure", alive=[p])
    self.stop_personalizer(p)
    self.assertEqual(self.files_holding(ldb, state, b"c-gone-77"), [])
    # The same scan finds an id that is there.
    self.assertIn("SST of profiles",
                  self.files_holding(ldb, state, b"c-kept-77"))


def main():
  global events_pb2, decision_pb2, audit_pb2, profile_pb2
  argv = tailor_process_case.parse_command_line(__doc__)
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import audit_pb2 as a
  from tailor.v1 import decision_pb2 as d
  from tailor.v1 import events_pb2 as e
  from tailor.v1 import profile_pb2 as pr
  events_pb2, decision_pb2, audit_pb2, profile_pb2 = e, d, a, pr
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
