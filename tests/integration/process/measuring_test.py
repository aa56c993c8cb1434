#!/usr/bin/env python3
"""Measuring, through the shipped programs: the closed loop of loadgen's
responding customers, attribution in the personalizer and the report.

A shop of 10,000 customers abandons carts; the personalizer reminds them
(10% held out by the campaign, 5% by the global control group); loadgen
--respond plays the customers: a reminded one orders with probability 8%, a
held-out one with 5% (the base rate), and opens 30% of the reminders. The
report must find the +3 points: its 95% interval contains 0.03 and excludes
0. The outcomes on tailor.outcomes are read with an independent client.

    measuring_test.py --personalizer=BIN --devbroker=BIN --loadgen=BIN \
        --ops=BIN --pydir=DIR --source_dir=DIR [unittest arguments]
"""

import collections
import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DECISION_TOPICS, DECISIONS_LOG_TOPIC, OUTCOMES_TOPIC, ProcessTestCase,
    metric_sum, metrics)

events_pb2 = None  # imported in main()
decision_pb2 = None
outcome_pb2 = None

CUSTOMERS = 10000
TICKS = 32  # customers whose late page view moves every partition's time
BASE, TREATED, OPEN = 0.05, 0.08, 0.30
MINUTE_MS = 60000


class ClosedLoopTest(ProcessTestCase):

  def rules_file(self):
    """The built-in defaults with a 5% global control group."""
    with open(os.path.join(tailor_process_case.ARGS.source_dir, "libs",
                           "decide", "rules.example.yaml"),
              encoding="utf-8") as f:
      rules = f.read()
    path = os.path.join(self.workdir, "rules.yaml")
    with open(path, "w", encoding="utf-8") as f:
      f.write(rules + "\ncontrol_group: {percent: 5, salt: measuring-test}\n")
    return path

  def produce_shop(self, t0):
    """Consent and a small cart per customer, then page views 65 minutes
    later that move every partition's stream time past the reminders."""
    producer = tailor_process_case.kafka.Producer({
        "bootstrap.servers": self.bootstrap,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
    })
    count = 0

    def send(topic, event):
      nonlocal count
      producer.produce(topic,
                       key=event.customer_id.encode(),
                       value=event.SerializeToString())
      producer.poll(0)
      count += 1

    for i in range(CUSTOMERS):
      c = f"m-{i}"
      send("privacy",
           events_pb2.Event(customer_id=c,
                            event_id=f"{c}-consent",
                            event_time_ms=t0,
                            consent_updated=events_pb2.ConsentUpdated(
                                granted_channels=[events_pb2.CHANNEL_PUSH])))
      # 30.00 PLN: below every coupon campaign's threshold, so the cart
      # reminder is the only decision.
      item = events_pb2.LineItem(product_id=f"p-{i % 97}",
                                 category_id="cat-1",
                                 quantity=1,
                                 unit_price=events_pb2.Money(minor_units=3000,
                                                             currency="PLN"))
      send("clickstream",
           events_pb2.Event(customer_id=c,
                            event_id=f"{c}-cart",
                            event_time_ms=t0 + 1000 + i,
                            cart_add=events_pb2.CartAdd(item=item)))
    for k in range(TICKS):
      send("clickstream",
           events_pb2.Event(customer_id=f"tick-{k}",
                            event_id=f"tick-{k}",
                            event_time_ms=t0 + 65 * MINUTE_MS,
                            page_view=events_pb2.PageView(page_type="home")))
    self.assertEqual(producer.flush(30), 0)
    return count

  def test_the_report_finds_the_simulated_uplift(self):
    self.start_broker(partitions=2)
    personalizer = self.start_personalizer(f"--rules={self.rules_file()}")
    self.wait_ready(personalizer)
    t0 = shop_start_ms()
    produced = self.produce_shop(t0)
    self.wait_processed(personalizer, produced)

    # The customers respond to what they got (and the held out order at
    # the base rate); only the responses are produced.
    loadgen = self.run_loadgen_output(
        "--shoppers=false", "--duration=12s", "--seed=3",
        f"--respond=abandoned_cart:open={OPEN},treated={TREATED},"
        f"base={BASE}")
    responses = int(re.search(r"responses=(\d+)", loadgen).group(1))
    self.assertGreater(responses, 0, loadgen)
    self.wait_processed(personalizer, produced + responses)
    port = personalizer.port
    counted = metric_sum(metrics(port), "tailor_outcomes_total")
    self.stop_personalizer(personalizer)

    records = self.read_topics(
        (DECISIONS_LOG_TOPIC, OUTCOMES_TOPIC) + DECISION_TOPICS)
    logged = {}
    for m in records[DECISIONS_LOG_TOPIC]:
      d = decision_pb2.Decision.FromString(m.value())
      logged[d.decision_id] = d
    reminders = [d for d in logged.values() if d.campaign == "abandoned_cart"]
    actions = collections.Counter(
        decision_pb2.DecisionAction.Name(d.action) for d in reminders)
    holdouts = collections.Counter(
        d.holdout for d in reminders
        if d.action == decision_pb2.DECISION_ACTION_HOLD_OUT)
    sys.stderr.write(f"reminders: {dict(actions)}, held out by {dict(holdouts)}" + "\n")
    self.assertGreater(holdouts["campaign"], 500)
    self.assertGreater(holdouts["global_control"], 200)
    # Delivery topics: SEND only.
    for topic in DECISION_TOPICS:
      for m in records[topic]:
        d = decision_pb2.Decision.FromString(m.value())
        self.assertEqual(d.action, decision_pb2.DECISION_ACTION_SEND, topic)

    # The outcomes, read with an independent client.
    kinds = collections.Counter()
    ids = set()
    for m in records[OUTCOMES_TOPIC]:
      o = outcome_pb2.Outcome.FromString(m.value())
      self.assertNotIn(o.outcome_id, ids, "an outcome twice")
      ids.add(o.outcome_id)
      self.assertEqual(m.key(), o.customer_id.encode())
      d = logged.get(o.decision_id)
      self.assertIsNotNone(d, f"outcome of a decision not logged: {o}")
      self.assertEqual((o.campaign, o.variant, o.action, o.customer_id),
                       (d.campaign, d.variant, d.action, d.customer_id))
      if o.outcome == outcome_pb2.OUTCOME_KIND_OPEN:
        self.assertEqual(o.action, decision_pb2.DECISION_ACTION_SEND)
      if o.outcome == outcome_pb2.OUTCOME_KIND_CONVERSION:
        self.assertEqual(o.value.minor_units, 15000)
        self.assertGreaterEqual(o.minutes_since_decision, 0)
      kinds[(outcome_pb2.OutcomeKind.Name(o.outcome),
             decision_pb2.DecisionAction.Name(o.action))] += 1
    sys.stderr.write(f"outcomes: {dict(kinds)}" + "\n")
    self.assertGreater(kinds[("OUTCOME_KIND_CONVERSION",
                              "DECISION_ACTION_HOLD_OUT")], 0)
    self.assertGreater(kinds[("OUTCOME_KIND_OPEN", "DECISION_ACTION_SEND")], 0)
    self.assertEqual(counted, len(ids), "tailor_outcomes_total")

    # The report finds the effect.
    report = self.run_report("--json")
    rows = {(r["campaign"], r["variant"]): r for r in json.loads(report)["rows"]}
    row = rows[("abandoned_cart", "")]
    sys.stderr.write(f"abandoned_cart: {row}" + "\n")
    self.assertEqual(row["decisions"]["send"],
                     actions["DECISION_ACTION_SEND"])
    low, high = row["uplift_ci"]
    self.assertLess(low, 0.03)
    self.assertGreater(high, 0.03)
    self.assertGreater(low, 0.0, "the effect is not found")
    self.assertTrue(row["significant"])
    self.assertAlmostEqual(row["ctr"], OPEN, delta=0.03)
    table = self.run_report()
    self.assertRegex(table, r"(?m)^abandoned_cart\s")

  def run_loadgen_output(self, *flags):
    p = self.start_loadgen(*flags)
    rc = p.wait(120)
    self.assertEqual(rc, 0, f"loadgen failed\n{p.tail()}")
    return p.stdout()

  def run_report(self, *flags):
    result = subprocess.run([
        tailor_process_case.ARGS.ops, "report",
        f"--bootstrap_servers={self.bootstrap}", *flags
    ],
                            capture_output=True,
                            text=True,
                            timeout=120,
                            check=False)
    self.assertEqual(result.returncode, 0,
                     f"report failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class OutputTopicsTest(ProcessTestCase):

  def test_a_missing_output_topic_is_refused_by_name(self):
    self.start_broker(partitions=2)
    p = self.start(
        "personalizer", [
            tailor_process_case.ARGS.personalizer,
            f"--bootstrap_file={self.bootstrap_file}",
            f"--state_dir={self.workdir}/state", "--http_address=off"
        ],
        env=dict(os.environ, TAILOR_TOPICS_OUTCOMES="tailor.no-such-topic"))
    rc = p.wait(60)
    self.assertEqual(rc, 2, p.tail())
    self.assertIn("refusing to start", p.stderr())
    self.assertIn("tailor.no-such-topic (topics.outcomes) does not exist",
                  p.stderr())


def main():
  global events_pb2, decision_pb2, outcome_pb2
  argv = tailor_process_case.parse_command_line(__doc__)
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as d
  from tailor.v1 import events_pb2 as e
  from tailor.v1 import outcome_pb2 as o
  events_pb2, decision_pb2, outcome_pb2 = e, d, o
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
