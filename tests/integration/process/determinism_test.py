#!/usr/bin/env python3
"""Determinism of the shipped personalizer: same input, same decisions.

A fixed, seeded generator (below; no wall clock) makes a few thousand
tailor.v1.Event records for a few hundred customers over three shop days in
January 2026 (between 08:00 and 21:00 Warsaw time), plus a few malformed
records. The same records are fed to a fresh devbroker and a fresh
personalizer (`--time_source=event`) several times, differently:

  reference  all input on the broker before the personalizer starts
  live       personalizer running, input produced in event-time order in
             chunks, each flushed before the next is produced
  topics     one input topic after another (clickstream, orders, privacy;
             and privacy, orders, clickstream) before the personalizer starts
  batches    --max_batch_events=7 and --max_batch_events=5000
  workers    --worker_threads=1 and --worker_threads=4 (the reference runs
             with the default, the machine's cores)
  restarts   SIGTERM, or SIGKILL, once about half of the input is taken;
             a restart on the same state directory finishes it

The decisions are read from outside (confluent_kafka, read_committed) as
{decision_id: value bytes}; a repeated id (at-least-once redelivery after
SIGKILL) must repeat the same bytes. Every run's map must equal the
reference's, and the dead letters' original values must be the same
multiset. On a difference the test prints which ids are only in one run and
which differ, decoded.

    determinism_test.py --personalizer=BIN --devbroker=BIN --pydir=DIR \
        --source_dir=REPO [unittest arguments, e.g. RestartTest]

TAILOR_KEEP_TEST_DIRS=1 keeps the directory (all process logs) of a failed
test.
"""

import collections
import dataclasses
import datetime
import os
import random
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import read_text  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DECISIONS_LOG_TOPIC, DLQ_TOPIC, DRAIN_TIMEOUT_S, INPUT_TOPICS, SHORT_SESSION,
    STOP_TIMEOUT_S, ProcessTestCase, parse_summary, records_taken)

ARGS = None  # Parsed command line, set in main().
kafka = None  # confluent_kafka, set in main().
events_pb2 = None  # tailor.v1 modules, imported in main().
decision_pb2 = None
text_format = None  # google.protobuf.text_format, imported in main().

PARTITIONS = 3
SEED = 20260115
CUSTOMERS = 260
# Shop days: 08:00-21:00 Warsaw is 07:00-20:00 UTC in January (CET, UTC+1).
SHOP_DAYS = tuple(datetime.date(2026, 1, 15) + datetime.timedelta(days=d)
                  for d in range(3))
OPEN_UTC = datetime.time(7, 5)
LAST_SESSION_UTC = datetime.time(19, 0)  # Sessions last < 1 h.
# Returning customers' earlier visit, long enough before for win-back (45 d).
PAST_DAY = datetime.date(2025, 11, 20)
HOUR_MS = 3600 * 1000
# Restart runs: small batches, so the signal falls between many cycles.
RESTART_BATCH_EVENTS = 40
# Budgets small enough to run out: which customer gets the last coupon of a
# day then depends on the order of the partition's events, across customers.
TIGHT_BUDGETS = (
    ("    daily_budget_count: 1000\n", "    daily_budget_count: 6\n"),
    ("    daily_budget_count: 500\n    daily_budget_value_minor: 1000000\n",
     "    daily_budget_count: 4\n    daily_budget_value_minor: 1000000\n"),
)


# --- the input ----------------------------------------------------------------


def murmur2_partition(key, partitions):
  """Kafka's default partition of a non-null key: Java murmur2, positive,
  modulo the partition count (librdkafka's murmur2_random for such keys)."""
  m, length = 0x5bd1e995, len(key)
  h = (0x9747b28c ^ length) & 0xffffffff
  for i in range(0, length - length % 4, 4):
    k = int.from_bytes(key[i:i + 4], "little")
    k = (k * m) & 0xffffffff
    k ^= k >> 24
    k = (k * m) & 0xffffffff
    h = ((h * m) & 0xffffffff) ^ k
  tail = key[length - length % 4:]
  if len(tail) == 3:
    h ^= tail[2] << 16
  if len(tail) >= 2:
    h ^= tail[1] << 8
  if tail:
    h = ((h ^ tail[0]) * m) & 0xffffffff
  h ^= h >> 13
  h = (h * m) & 0xffffffff
  h ^= h >> 15
  return (h & 0x7fffffff) % partitions


@dataclasses.dataclass
class Record:
  """One input record, as produced."""
  topic: str
  key: bytes
  value: bytes
  timestamp_ms: int  # Also the Kafka record timestamp.
  partition: int
  malformed: bool = False


@dataclasses.dataclass
class Customer:
  id: str
  time_zone: str
  device: int
  categories: list
  kind: str  # "regular", "loyal", "vip" or "returning"
  cart: dict = dataclasses.field(default_factory=dict)  # product -> quantity
  orders: int = 0
  events: int = 0
  sessions: int = 0


class ShopGenerator:
  """A seeded shop: every call of make() with the same seed and count gives
  the same records, byte for byte. Timelines per customer, then merged into
  one event-time order with unique timestamps."""

  def __init__(self, seed, customers):
    self.rng = random.Random(seed)
    self.count = customers
    self.timeline = []  # (time_ms, sequence, topic, Event)
    self.products = [(f"p-{i:04d}", f"cat-{i % 24:02d}",
                      self.rng.choice((1999, 3999, 5999, 8999, 12999, 19999,
                                       29999, 45999))) for i in range(240)]
    self.orders = 0

  @staticmethod
  def at(day, hour, minute=0, second=0):
    return int(
        datetime.datetime.combine(
            day, datetime.time(hour, minute, second),
            datetime.timezone.utc).timestamp() * 1000)

  def event(self, c, t, topic, session=""):
    e = events_pb2.Event(event_id=f"{c.id}-e{c.events:04d}",
                         customer_id=c.id,
                         event_time_ms=t)
    c.events += 1
    e.context.device = c.device
    e.context.locale = "pl-PL"
    e.context.region = "PL-MZ"
    e.context.time_zone = c.time_zone
    e.context.session_id = session
    self.timeline.append((t, len(self.timeline), topic, e))
    return e

  def line(self, item, product, quantity):
    pid, cat, price = product
    item.product_id, item.category_id, item.quantity = pid, cat, quantity
    item.unit_price.minor_units, item.unit_price.currency = price, "PLN"

  def consent(self, c, t, channels, opt_out=False):
    e = self.event(c, t, "privacy")
    e.consent_updated.granted_channels.extend(channels)
    e.consent_updated.profiling_opt_out = opt_out

  def session(self, c, start, order_chance):
    """One visit; returns the time of its last event."""
    rng, t = self.rng, start
    c.sessions += 1
    sid = f"s-{c.id[2:]}-{c.sessions}"

    def step(low_s=15, high_s=150):
      nonlocal t
      t += rng.randint(low_s * 1000, high_s * 1000)
      return t

    if rng.random() < 0.12:
      e = self.event(c, t, "clickstream", sid)
      e.push_opened.decision_id = "%032x" % rng.getrandbits(128)
      e.push_opened.campaign = rng.choice(("abandoned_cart",
                                           "browse_abandonment"))
      step()
    if c.device == events_pb2.DEVICE_CLASS_APP:
      self.event(c, t, "clickstream", sid).app_open.SetInParent()
    else:
      self.event(c, t, "clickstream", sid).page_view.page_type = "home"
    catalogue = [
        p for p in self.products
        if p[1] in c.categories and (c.kind != "vip" or p[2] >= 29999)
    ]
    focus = rng.choice(catalogue)
    for _ in range(rng.randint(2, 9)):
      r = rng.random()
      if r < 0.12:
        e = self.event(c, step(), "clickstream", sid)
        e.search.query_category_id = focus[1]
        e.search.results = rng.randint(0, 40)
      elif r < 0.25:
        e = self.event(c, step(), "clickstream", sid)
        e.page_view.page_type = "category"
        e.page_view.category_id = rng.choice(c.categories)
      else:
        product = focus if rng.random() < 0.5 else rng.choice(catalogue)
        e = self.event(c, step(), "clickstream", sid)
        e.product_view.product_id, e.product_view.category_id = product[:2]
        e.product_view.price.minor_units = product[2]
        e.product_view.price.currency = "PLN"
    if rng.random() < (0.95 if c.kind == "vip" else 0.6):
      extra = rng.randint(1, 3) if c.kind == "vip" else rng.randint(0, 2)
      for product in [focus] + rng.sample(catalogue, extra):
        quantity = rng.randint(1, 2)
        self.line(self.event(c, step(), "clickstream", sid).cart_add.item,
                  product, quantity)
        c.cart[product] = c.cart.get(product, 0) + quantity
    if c.cart and rng.random() < 0.2:
      product = rng.choice(sorted(c.cart))
      e = self.event(c, step(), "clickstream", sid)
      e.cart_remove.product_id = product[0]
      e.cart_remove.quantity = rng.choice((0, 1))
      if e.cart_remove.quantity == 0 or c.cart[product] == 1:
        del c.cart[product]
      else:
        c.cart[product] -= 1
    if c.cart and rng.random() < order_chance:
      self.order(c, sid, step)
    return t

  def order(self, c, sid, step):
    rng = self.rng
    value = sum(p[2] * q for p, q in c.cart.items())
    e = self.event(c, step(), "clickstream", sid)
    e.checkout_started.cart_value.minor_units = value
    e.checkout_started.cart_value.currency = "PLN"
    self.orders += 1
    order_id = f"o-{self.orders:05d}"
    placed = self.event(c, step(30, 240), "orders", sid).order_placed
    placed.order_id = order_id
    for product, quantity in sorted(c.cart.items()):
      self.line(placed.items.add(), product, quantity)
    placed.total.minor_units, placed.total.currency = value, "PLN"
    if rng.random() < 0.15:
      placed.coupon_code = "WELCOME-%06X" % rng.getrandbits(24)
      e = self.event(c, step(1, 5), "clickstream", sid)
      e.coupon_redeemed.coupon_code = placed.coupon_code
      e.coupon_redeemed.campaign = "first_order"
      e.coupon_redeemed.order_id = order_id
    items = sorted(c.cart.items())
    c.cart.clear()
    c.orders += 1
    # Follow-ups, hours or a day later, on the orders topic.
    incident = 0.5 if c.kind == "vip" else 0.1
    later = self.shop_hours(step() + rng.randint(2, 6) * HOUR_MS)
    if rng.random() < incident:
      e = self.event(c, later, "orders")
      e.order_cancelled.order_id = order_id
      e.order_cancelled.reason = rng.choice(("late_delivery",
                                             "changed_mind"))
      return
    delivered = self.shop_hours(later + 18 * HOUR_MS)
    self.event(c, delivered, "orders").order_delivered.order_id = order_id
    if rng.random() < incident:
      returned = self.shop_hours(delivered + rng.randint(1, 5) * HOUR_MS)
      e = self.event(c, returned, "orders")
      e.order_returned.order_id = order_id
      self.line(e.order_returned.items.add(), *items[0])
      e.order_returned.reason = rng.choice(("damaged", "wrong_size"))

  def shop_hours(self, t, latest=datetime.time(20, 0)):
    """t, or a time early on the next shop morning if t is outside shop
    hours (08:00-21:00 Warsaw) or after `latest` (UTC)."""
    when = datetime.datetime.fromtimestamp(t / 1000, datetime.timezone.utc)
    if OPEN_UTC <= when.time() < latest:
      return t
    day = when.date() + datetime.timedelta(days=int(when.time() >= latest))
    return self.at(day, OPEN_UTC.hour, OPEN_UTC.minute) + self.rng.randint(
        0, 2 * HOUR_MS)

  def session_starts(self, n):
    """n session start times on the shop days, at least 80 min apart."""
    starts = []
    while len(starts) < n:
      day = self.rng.choice(SHOP_DAYS)
      low, high = self.at(day, OPEN_UTC.hour, OPEN_UTC.minute), self.at(
          day, LAST_SESSION_UTC.hour, LAST_SESSION_UTC.minute)
      t = self.rng.randint(low, high)
      if all(abs(t - s) > 80 * 60 * 1000 for s in starts):
        starts.append(t)
    return sorted(starts)

  def customer(self, c):
    rng = self.rng
    push, email, onsite = (events_pb2.CHANNEL_PUSH, events_pb2.CHANNEL_EMAIL,
                           events_pb2.CHANNEL_ONSITE)
    consent = rng.choice(((push, email, onsite), (push, email, onsite),
                          (push, onsite), (email,), (onsite,), None))
    if c.kind == "returning":
      consent = (push, email, onsite)
      start = self.at(PAST_DAY, 9) + rng.randint(0, 6 * HOUR_MS)
      self.consent(c, start - 60000, consent)
      while not c.orders:
        start = self.shop_hours(
            self.session(c, start, 1.0) + 2 * HOUR_MS, LAST_SESSION_UTC)
    sessions = {"regular": (1, 3), "loyal": (3, 4), "vip": (4, 5),
                "returning": (1, 2)}[c.kind]
    order_chance = {"regular": 0.35, "loyal": 0.9, "vip": 1.0,
                    "returning": 0.5}[c.kind]
    starts = self.session_starts(rng.randint(*sessions))
    if consent and c.kind != "returning":
      self.consent(c, starts[0] - rng.randint(1000, 60000), consent)
    for number, start in enumerate(starts, 1):
      if number == 2 and rng.random() < 0.06:
        # Second thoughts: push withdrawn, or profiling refused.
        opt_out = rng.random() < 0.5
        self.consent(c, start - 5000, (email,), opt_out=opt_out)
      if number == 2 and rng.random() < 0.01:
        e = self.event(c, start - 4000, "privacy")
        e.erasure_requested.request_id = f"gdpr-{c.id}"
      self.session(c, start, order_chance)

  def make(self):
    """The records in event-time order: (all records, malformed ones)."""
    rng = self.rng
    ids = sorted(rng.sample(range(1, 10_000_000), self.count))
    customers = []
    for index in ids:
      r = rng.random()
      kind = ("vip" if r < 0.04 else "returning" if r < 0.14 else
              "loyal" if r < 0.24 else "regular")
      zone = rng.choice(("Europe/Warsaw",) * 8 + ("", "Europe/London"))
      device = rng.choice((events_pb2.DEVICE_CLASS_MOBILE_WEB,
                           events_pb2.DEVICE_CLASS_DESKTOP_WEB,
                           events_pb2.DEVICE_CLASS_APP))
      categories = rng.sample([f"cat-{i:02d}" for i in range(24)], 2)
      customers.append(Customer(f"c-{index:07d}", zone, device, categories,
                                kind))
    for c in customers:
      if c.kind == "vip":  # Big spenders: escalation needs 2000.00 PLN.
        c.categories = sorted({p[1] for p in self.products if p[2] >= 29999})
      self.customer(c)
    self.timeline.sort(key=lambda entry: entry[:2])
    records = []
    for t, _, topic, e in self.timeline:
      records.append(self.record(topic, e.customer_id, e, t))
    malformed = [self.malformed(customers, records) for _ in range(12)]
    for position, record in sorted(malformed, key=lambda m: -m[0]):
      records.insert(position, record)
    # Unique, strictly increasing times: no tie for the pipeline to break.
    last = None
    for r in records:
      if last is not None and r.timestamp_ms <= last:
        r.timestamp_ms = last + 1
      last = r.timestamp_ms
      if not r.malformed:
        e = events_pb2.Event.FromString(r.value)
        e.event_time_ms = r.timestamp_ms
        r.value = e.SerializeToString(deterministic=True)
    return records, [r for _, r in malformed]

  @staticmethod
  def record(topic, customer_id, event, t, malformed=False):
    key = customer_id.encode()
    value = (event.SerializeToString(deterministic=True)
             if not isinstance(event, bytes) else event)
    return Record(topic, key, value, t, murmur2_partition(key, PARTITIONS),
                  malformed)

  def malformed(self, customers, records):
    """(position, record): a record to dead-letter, at a random place."""
    rng = self.rng
    position = rng.randrange(len(records))
    t = records[position].timestamp_ms
    customer = rng.choice(customers).id
    kind = rng.choice(("garbage", "garbage", "wrong_topic", "no_customer",
                       "1970"))
    e = events_pb2.Event(event_id=f"bad-{rng.getrandbits(32):08x}",
                         customer_id=customer,
                         event_time_ms=t)
    e.page_view.page_type = "home"
    topic = "clickstream"
    if kind == "garbage":
      topic = rng.choice(INPUT_TOPICS)
      while True:  # Field number 0 with wire type 7: never a protobuf.
        value = b"\x07" + rng.getrandbits(8 * 40).to_bytes(40, "little")
        try:
          events_pb2.Event.FromString(value)
        except Exception:  # pylint: disable=broad-except
          break
      e = value
    elif kind == "wrong_topic":
      topic = "orders"
    elif kind == "no_customer":
      e.customer_id = ""
    else:
      e.event_time_ms = 1000
    return position, self.record(topic, customer, e, t, malformed=True)


_INPUT = None


def shop_input():
  """The generated input, made once per process."""
  global _INPUT
  if _INPUT is None:
    _INPUT = ShopGenerator(SEED, CUSTOMERS).make()
  return _INPUT


def live_chunks(records):
  """The records in event-time order, cut into chunks to produce and flush
  one after another: a chunk spans at most one shop hour, and a partition
  gets records of one input topic only within a chunk.

  The second rule is what makes a live feed comparable at all: a task
  (partition N of the three topics) can only take its inputs in event-time
  order if a record of one topic is not still on its way while a later
  record of another topic is already there. Within one chunk the broker
  receives the topics' records in no particular order; across chunks, the
  flush orders them."""
  chunks, current, topic_of, hour = [], [], {}, None
  for r in records:
    r_hour = r.timestamp_ms // HOUR_MS
    if current and (r_hour != hour or
                    topic_of.get(r.partition, r.topic) != r.topic):
      chunks.append(current)
      current, topic_of = [], {}
    current.append(r)
    topic_of[r.partition] = r.topic
    hour = r_hour
  if current:
    chunks.append(current)
  return chunks


# --- what a run produced ----------------------------------------------------


@dataclasses.dataclass
class RunOutput:
  name: str
  decisions: dict  # decision_id -> value bytes
  topic_of: dict  # decision_id -> topic
  dead_letters: collections.Counter  # original value bytes -> count
  repeated: int  # records carrying an id seen before (same bytes)
  conflicts: list  # (decision_id, first bytes, other bytes)

  def counts(self):
    """Decisions per (campaign, action)."""
    out = collections.Counter()
    for value in self.decisions.values():
      d = decision_pb2.Decision.FromString(value)
      out[f"{d.campaign}/" + decision_pb2.DecisionAction.Name(
          d.action).removeprefix("DECISION_ACTION_").lower()] += 1
    return out

  def describe(self):
    parts = " ".join(f"{k}={n}" for k, n in sorted(self.counts().items()))
    return (f"{self.name}: {len(self.decisions)} decisions ({parts}), "
            f"{sum(self.dead_letters.values())} dead letters, "
            f"{self.repeated} repeated")


def decode(value):
  """One line of protobuf text format: the decision without its facts and
  payload (named only), which the field diff shows where they matter."""
  try:
    d = decision_pb2.Decision.FromString(value)
  except Exception as e:  # pylint: disable=broad-except
    return f"<not a Decision: {e}> {value[:40].hex()}"
  payload = d.WhichOneof("payload")
  d.ClearField("facts")
  if payload:
    d.ClearField(payload)
  created = datetime.datetime.fromtimestamp(d.created_at_ms / 1000,
                                            datetime.timezone.utc)
  return (text_format.MessageToString(d, as_one_line=True) +
          f" (payload {payload}, created {created:%Y-%m-%d %H:%M:%S} UTC)")


def short(value, limit=160):
  if isinstance(value, list):
    text = "[" + ", ".join(short(v, limit) for v in value) + "]"
  elif hasattr(value, "ListFields"):
    text = "{" + text_format.MessageToString(value, as_one_line=True) + "}"
  else:
    text = repr(value)
  return text if len(text) <= limit else text[:limit] + " ..."


def message_diff(a, b, prefix=""):
  """Lines `path: a != b` for the fields of two messages that differ."""
  out = []
  for field in a.DESCRIPTOR.fields:
    va, vb = getattr(a, field.name), getattr(b, field.name)
    if va == vb:
      continue
    path = prefix + field.name
    repeated = field.label == field.LABEL_REPEATED
    if field.message_type is not None and not repeated:
      out.extend(message_diff(va, vb, path + "."))
    elif field.message_type is not None and len(va) == len(vb):
      for k, (x, y) in enumerate(zip(va, vb)):
        if x != y:
          out.extend(message_diff(x, y, f"{path}[{k}]."))
    elif field.enum_type is not None and not repeated:
      names = field.enum_type.values_by_number
      out.append(f"{path}: {names[va].name} != {names[vb].name}")
    else:
      out.append(f"{path}: {short(list(va) if repeated else va)} != "
                 f"{short(list(vb) if repeated else vb)}")
  return out


def field_diff(a, b):
  """What differs between two encoded decisions."""
  try:
    da, db = (decision_pb2.Decision.FromString(a),
              decision_pb2.Decision.FromString(b))
  except Exception:  # pylint: disable=broad-except
    return [f"{a[:40].hex()} != {b[:40].hex()}"]
  head = f"{da.customer_id} {da.campaign}, trigger {da.trigger_event_id}"
  return [head] + (message_diff(da, db) or
                   ["(the same fields, encoded differently)"])


def difference(run, reference, shown=6):
  """A short report of how `run` differs from `reference`; "" if it does
  not."""
  lines = []
  only_run = sorted(set(run.decisions) - set(reference.decisions))
  only_ref = sorted(set(reference.decisions) - set(run.decisions))
  changed = sorted(i for i in set(run.decisions) & set(reference.decisions)
                   if run.decisions[i] != reference.decisions[i])
  if only_run or only_ref or changed:
    lines.append(
        f"decisions: {len(run.decisions)} in {run.name}, "
        f"{len(reference.decisions)} in {reference.name}; "
        f"only in {run.name}: {len(only_run)}, only in {reference.name}: "
        f"{len(only_ref)}, different bytes: {len(changed)}")
    ours, theirs = run.counts(), reference.counts()
    lines.append("  per campaign/action (" + run.name + " != " +
                 reference.name + "): " + ", ".join(
                     f"{k} {ours[k]} != {theirs[k]}"
                     for k in sorted(set(ours) | set(theirs))
                     if ours[k] != theirs[k]))
  for title, ids, source in ((f"only in {run.name}", only_run, run),
                             (f"only in {reference.name}", only_ref,
                              reference)):
    for i in ids[:shown]:
      lines.append(f"  {title}: [{source.topic_of[i]}] "
                   f"{decode(source.decisions[i])}")
    if len(ids) > shown:
      lines.append(f"  ... and {len(ids) - shown} more {title}")
  for i in changed[:shown]:
    lines.append(f"  different bytes for {i} ({run.name} != "
                 f"{reference.name}):")
    lines.extend(f"    {d}" for d in field_diff(run.decisions[i],
                                                 reference.decisions[i]))
  if len(changed) > shown:
    lines.append(f"  ... and {len(changed) - shown} more with different "
                 f"bytes")
  if run.dead_letters != reference.dead_letters:
    extra = run.dead_letters - reference.dead_letters
    missing = reference.dead_letters - run.dead_letters
    lines.append(
        f"dead letters: {sum(run.dead_letters.values())} in {run.name}, "
        f"{sum(reference.dead_letters.values())} in {reference.name}")
    for title, values in ((f"only in {run.name}", extra),
                          (f"only in {reference.name}", missing)):
      for value, n in sorted(values.items())[:shown]:
        lines.append(f"  {title}: {n} x {value[:32].hex()}")
  return "\n".join(lines)


# --- the runs -----------------------------------------------------------------

_REFERENCE = None  # RunOutput of the reference run, made once per process.
_REFERENCE_FAILED = None  # Or why it failed, so that it is not redone.


class DeterminismCase(ProcessTestCase):
  """Feeds the generated input to fresh brokers and personalizers in
  different ways and compares what came out."""

  def setUp(self):
    super().setUp()
    self.records, self.malformed = shop_input()
    example = read_text(
        os.path.join(ARGS.source_dir, "libs", "decide", "rules.example.yaml"))
    for old, new in TIGHT_BUDGETS:
      self.assertIn(old, example, "rules.example.yaml changed; update me")
      example = example.replace(old, new, 1)
    self.rules = os.path.join(self.workdir, "rules.yaml")
    with open(self.rules, "w") as f:
      f.write(example)

  def log(self, text):
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()

  # --- input ---------------------------------------------------------------

  def produce(self, chunks):
    """Produces each chunk and flushes (all acknowledged) before the next;
    checks that every record went to the partition murmur2 gives."""
    producer = kafka.Producer({
        "bootstrap.servers": self.bootstrap,
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "linger.ms": 2,
    })
    problems = []

    def delivered(expected):
      def report(err, msg):
        if err is not None:
          problems.append(f"{expected.topic}: {err}")
        elif msg.partition() != expected.partition:
          problems.append(f"{expected.topic} key {expected.key!r} went to "
                          f"partition {msg.partition()}, murmur2 says "
                          f"{expected.partition}")

      return report

    for chunk in chunks:
      for r in chunk:
        producer.produce(r.topic,
                         key=r.key,
                         value=r.value,
                         timestamp=r.timestamp_ms,
                         on_delivery=delivered(r))
        producer.poll(0)
      self.assertEqual(producer.flush(30), 0, "records still unsent")
    self.assertEqual(problems[:5], [], f"{len(problems)} delivery problems")

  def by_topics(self, order):
    return [[r for r in self.records if r.topic == t] for t in order]

  # --- runs ----------------------------------------------------------------

  def fresh_broker(self):
    for p in self.procs:
      if p.alive():
        p.kill()
    self.start_broker(partitions=PARTITIONS)

  def personalizer(self, run, *flags):
    return self.start_personalizer("--time_source=event",
                                   SHORT_SESSION,
                                   f"--rules={self.rules}",
                                   *flags,
                                   state_dir=os.path.join(
                                       self.workdir, f"state-{run}"),
                                   group=f"tailor-determinism-{run}")

  def finish(self, personalizer):
    """Waits until every input record is taken; SIGTERM; the records it
    took by its summary."""
    self.wait_processed(personalizer, len(self.records))
    summary = self.stop_personalizer(personalizer)
    return summary["events"] + summary["dead_letters"]

  def fed_before_start(self, run, chunks, *flags):
    """A run on a fresh broker: `chunks` produced, then the personalizer
    started and run to the end."""
    started = time.monotonic()
    self.fresh_broker()
    self.produce(chunks)
    taken = self.finish(self.personalizer(run, *flags))
    self.assertEqual(taken, len(self.records), f"{run}: records taken")
    return self.collect(run, started)

  def fed_live(self, run, chunks, *flags):
    """A run on a fresh broker: the personalizer ready first, then the
    chunks produced while it runs."""
    started = time.monotonic()
    self.fresh_broker()
    p = self.personalizer(run, *flags)
    self.wait_ready(p)
    self.produce(chunks)
    self.assertEqual(self.finish(p), len(self.records), f"{run}: taken")
    return self.collect(run, started)

  def restarted(self, run, sig):
    """The first half of the input (in event-time chunks, as live) is
    produced and taken; the personalizer gets `sig`; the rest is produced
    and a second one on the same state dir and group finishes."""
    started = time.monotonic()
    self.fresh_broker()
    chunks = live_chunks(self.records)
    first_half = chunks[:len(chunks) // 2]
    half = sum(len(c) for c in first_half)
    total = len(self.records)
    batch = f"--max_batch_events={RESTART_BATCH_EVENTS}"
    first = self.personalizer(run, batch)
    self.wait_ready(first)
    self.produce(first_half)
    self.wait_processed(first, half)
    first.send(sig)
    rc = first.wait(STOP_TIMEOUT_S)
    taken = None
    if sig == signal.SIGTERM:
      self.assertEqual(rc, 0, f"exit code after SIGTERM\n{self.logs()}")
      summary = parse_summary(first.stdout())
      taken = summary["events"] + summary["dead_letters"]
      self.assertEqual(taken, half, "records taken before the SIGTERM")
    else:
      self.assertEqual(rc, -signal.SIGKILL, self.logs())
    self.log(f"{run}: {signal.Signals(sig).name} after {half} of {total} "
             f"records")
    self.produce(chunks[len(chunks) // 2:])

    second = self.personalizer(run, batch)
    group = f"tailor-determinism-{run}"
    self.wait_until(lambda: self.committed_records(group) >= total,
                    f"{group} to commit all {total} input records",
                    timeout=DRAIN_TIMEOUT_S,
                    alive=[second])
    summary = self.stop_personalizer(second)
    taken_second = summary["events"] + summary["dead_letters"]
    if sig == signal.SIGTERM:
      self.assertEqual(taken + taken_second, total,
                       "a graceful restart neither re-reads nor skips")
    return self.collect(run, started)

  def collect(self, run, started):
    # Every decision, whatever its action: the log.
    records = self.read_topics((DECISIONS_LOG_TOPIC, DLQ_TOPIC))
    out = RunOutput(run, {}, {}, collections.Counter(), 0, [])
    for topic in (DECISIONS_LOG_TOPIC,):
      for msg in records[topic]:
        d = decision_pb2.Decision.FromString(msg.value())
        i = d.decision_id
        if i in out.decisions:
          out.repeated += 1
          if out.decisions[i] != msg.value() or out.topic_of[i] != topic:
            out.conflicts.append((i, out.decisions[i], msg.value()))
          continue
        out.decisions[i], out.topic_of[i] = msg.value(), topic
    out.dead_letters.update(m.value() for m in records[DLQ_TOPIC])
    self.log(f"{out.describe()} ({time.monotonic() - started:.1f} s)")
    return out

  # --- checks --------------------------------------------------------------

  def reference(self):
    """Run (b): all input on the broker before the personalizer starts."""
    global _REFERENCE, _REFERENCE_FAILED
    if _REFERENCE_FAILED:
      self.fail(f"the reference run failed: {_REFERENCE_FAILED}")
    if _REFERENCE is None:
      try:
        _REFERENCE = self.checked_reference()
      except AssertionError as e:
        _REFERENCE_FAILED = str(e).splitlines()[0][:300]
        raise
    return _REFERENCE

  def checked_reference(self):
    ref = self.fed_before_start("reference", [self.records])
    self.check_sound(ref)
    self.assertEqual(ref.repeated, 0, "without a crash no decision repeats")
    # Something non-trivial happened, so that equal runs mean something.
    kinds = collections.Counter(
        decision_pb2.Decision.FromString(v).kind
        for v in ref.decisions.values())
    self.assertGreater(len(ref.decisions), 100, ref.describe())
    for kind in ("DECISION_KIND_CART_REMINDER", "DECISION_KIND_COUPON",
                 "DECISION_KIND_PUSH"):
      self.assertGreater(kinds[decision_pb2.DecisionKind.Value(kind)], 0,
                         f"no {kind}: {ref.describe()}")
    self.assertEqual(ref.dead_letters,
                     collections.Counter(r.value for r in self.malformed),
                     "the dead letters are exactly the malformed records")
    return ref

  def check_sound(self, out):
    """Within one run a decision id always carries the same bytes."""
    if out.conflicts:
      lines = []
      for i, first, again in out.conflicts[:5]:
        lines.append(f"  {i}:")
        lines.extend(f"    {d}" for d in field_diff(first, again))
      self.fail(f"{out.name}: {len(out.conflicts)} decision ids repeated "
                f"with other bytes (first != again):\n" + "\n".join(lines))

  def assertSameAsReference(self, out):
    reference = self.reference()
    self.check_sound(out)
    diff = difference(out, reference)
    if diff:
      self.fail(f"run {out.name} differs from run {reference.name}:\n{diff}")


class FeedingOrderTest(DeterminismCase):
  """The order in which the input reaches the broker does not matter."""

  def test_live_in_event_time_chunks(self):
    chunks = live_chunks(self.records)
    self.log(f"live: {len(self.records)} records in {len(chunks)} chunks")
    self.assertSameAsReference(self.fed_live("live", chunks))

  def test_clickstream_then_orders_then_privacy(self):
    order = ("clickstream", "orders", "privacy")
    self.assertSameAsReference(
        self.fed_before_start("clickstream-first", self.by_topics(order)))

  def test_privacy_then_orders_then_clickstream(self):
    order = ("privacy", "orders", "clickstream")
    self.assertSameAsReference(
        self.fed_before_start("privacy-first", self.by_topics(order)))


class BatchSizeTest(DeterminismCase):
  """Batch boundaries do not matter."""

  def test_batches_of_7(self):
    self.assertSameAsReference(
        self.fed_before_start("batch-7", [self.records],
                              "--max_batch_events=7"))

  def test_batches_of_5000(self):
    self.assertSameAsReference(
        self.fed_before_start("batch-5000", [self.records],
                              "--max_batch_events=5000"))


class WorkerThreadsTest(DeterminismCase):
  """How the partitions are spread over worker threads does not matter."""

  def test_one_worker(self):
    self.assertSameAsReference(
        self.fed_before_start("workers-1", [self.records],
                              "--worker_threads=1"))

  def test_four_workers(self):
    self.assertSameAsReference(
        self.fed_before_start("workers-4", [self.records],
                              "--worker_threads=4"))


class RestartTest(DeterminismCase):
  """A restart half way, graceful or not, does not matter."""

  def test_sigterm_half_way(self):
    self.assertSameAsReference(self.restarted("sigterm", signal.SIGTERM))

  def test_sigkill_half_way(self):
    self.assertSameAsReference(self.restarted("sigkill", signal.SIGKILL))


def main():
  global ARGS, kafka, events_pb2, decision_pb2, text_format
  argv = tailor_process_case.parse_command_line(__doc__.splitlines()[0])
  ARGS, kafka = tailor_process_case.ARGS, tailor_process_case.kafka
  if not ARGS.source_dir:
    sys.exit("determinism_test: --source_dir is required (for the rules)")
  # pylint: disable=import-outside-toplevel
  from google.protobuf import text_format as tf
  from tailor.v1 import decision_pb2 as d
  from tailor.v1 import events_pb2 as e
  events_pb2, decision_pb2, text_format = e, d, tf
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
