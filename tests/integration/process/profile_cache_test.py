#!/usr/bin/env python3
"""The cache of hot profiles is bounded in bytes (profile_cache_bytes), not
only by its count of entries: customers with large profiles (full carts)
cannot take the personalizer's memory with them.

The same input goes to a personalizer with profile_cache_bytes set to
16 MiB, then (a fresh broker and state) to one bounded by entries only
(profile_cache_bytes at its maximum). Checked from outside: the cache
gauges on /metrics and the peak RSS of each process (/proc/<pid>/status),
against its RSS once ready.

    profile_cache_test.py --personalizer=BIN --devbroker=BIN --pydir=DIR \
        [unittest arguments, e.g. ProfileCacheBytesTest]
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import shop_start_ms  # noqa: E402
from tailor_process_case import (  # noqa: E402
    DRAIN_TIMEOUT_S, SHORT_SESSION, ProcessTestCase, metrics)

events_pb2 = None  # imported in main()

MIB = 1 << 20
LIMIT = 16 * MIB
ENTRIES_ONLY = 1 << 40  # the largest profile_cache_bytes: no byte bound
# Full carts (README Limits: 100 cart lines kept) of short ids, the shape
# with the most heap per input byte: ~7 KB serialized, ~30 KB parsed, so
# 2000 customers take about 60 MiB of heap.
CUSTOMERS = 2000
LINES = 100
ID_BYTES = 16
# More partitions than usual: the embedded broker keeps about 5 MB of each.
PARTITIONS = 8
# Small RocksDB caches, input buffers and frequent commits, so that what
# grows is mostly the profile cache (and little stays pinned by commits in
# flight).
ENV = {
    "TAILOR_BLOCK_CACHE_MB": "8",
    "TAILOR_WRITE_BUFFER_MB": "4",
    "TAILOR_COMMIT_INTERVAL_MS": "100",
    "TAILOR_MAX_BUFFERED_RECORDS": "2000",
    "TAILOR_PROFILE_CACHE_ENTRIES": "200000",
}


def rss_kib(pid, field):
  """VmRSS or VmHWM (peak) of a process, KiB."""
  with open(f"/proc/{pid}/status", encoding="ascii") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1])
  raise AssertionError(f"no {field} in /proc/{pid}/status")


class ProfileCacheBytesTest(ProcessTestCase):

  def produce_large_profiles(self):
    """CUSTOMERS customers, each adding LINES distinct products to the cart,
    one customer after another; returns the count."""
    producer = tailor_process_case.kafka.Producer({
        "bootstrap.servers": self.bootstrap,
        "linger.ms": 5,
    })
    t = shop_start_ms()
    count = 0
    for c in range(CUSTOMERS):
      customer = f"hoarder-{c:04d}"
      for i in range(LINES):
        t += 10  # all within an hour: no reminder fires
        item = events_pb2.LineItem(
            product_id=f"p-{c:04d}-{i:03d}-".ljust(ID_BYTES, "x"),
            category_id=f"k-{i:03d}-".ljust(ID_BYTES, "y"),
            quantity=1,
            unit_price=events_pb2.Money(minor_units=1999, currency="PLN"))
        e = events_pb2.Event(customer_id=customer,
                             event_id=f"{customer}-{i}",
                             event_time_ms=t,
                             cart_add=events_pb2.CartAdd(item=item))
        producer.produce("clickstream", key=customer.encode(),
                         value=e.SerializeToString())
        producer.poll(0)
        count += 1
    self.assertEqual(producer.flush(30), 0, "records still unsent")
    return count

  def read_all(self, name, cache_bytes):
    """Starts a broker and a personalizer, feeds it the input and returns its
    cache metrics and RSS growth (peak minus ready), MiB."""
    self.start_broker(partitions=PARTITIONS)
    group = f"tailor-cache-{name}"
    p = self.start_personalizer(
        SHORT_SESSION + ",queued.max.messages.kbytes=1024", group=group,
        state_dir=os.path.join(self.workdir, f"state-{name}"),
        env_extra=dict(ENV, TAILOR_PROFILE_CACHE_BYTES=str(cache_bytes)))
    self.wait_ready(p)
    ready_kib = rss_kib(p.popen.pid, "VmRSS")
    records = self.produce_large_profiles()
    self.wait_until(lambda: self.committed_records(group) >= records,
                    f"{group} to commit all {records} input records",
                    timeout=DRAIN_TIMEOUT_S,
                    alive=[p])
    # The group offsets follow a durable commit, whose evictions the
    # metrics show within 200 ms.
    time.sleep(1)
    m = metrics(p.port)
    self.assertEqual(m["tailor_events_total"], records)
    for name in ("tailor_profile_cache_bytes",
                 "tailor_profile_cache_limit_bytes",
                 "tailor_profile_cache_evictions_total"):
      self.assertIn(name, m, "a profile cache metric is missing")
    out = {
        "bytes": m["tailor_profile_cache_bytes"],
        "limit": m["tailor_profile_cache_limit_bytes"],
        "evictions": m["tailor_profile_cache_evictions_total"],
        "profiles": m["tailor_cached_profiles"],
        "rss_growth_mib": (rss_kib(p.popen.pid, "VmHWM") - ready_kib) / 1024,
    }
    self.stop_personalizer(p)
    sys.stderr.write(f"{name}: {out}\n")
    return out

  def test_the_cache_stays_within_profile_cache_bytes(self):
    bounded = self.read_all("bounded", LIMIT)
    entries_only = self.read_all("entries-only", ENTRIES_ONLY)

    # The premise: without the byte bound every profile stays, and they
    # take well over the limit.
    self.assertEqual(entries_only["profiles"], CUSTOMERS)
    self.assertEqual(entries_only["evictions"], 0)
    self.assertGreater(entries_only["bytes"], 2 * LIMIT)

    self.assertEqual(bounded["limit"], LIMIT)
    self.assertGreater(bounded["bytes"], 0)
    self.assertLessEqual(bounded["bytes"], LIMIT)
    self.assertGreater(bounded["evictions"], 0)
    self.assertLess(bounded["profiles"], CUSTOMERS)
    # The memory follows: the bounded process grows by far less than the
    # one that keeps every profile, by at least half of what the bound
    # kept out of its cache.
    kept_out_mib = (entries_only["bytes"] - bounded["bytes"]) / MIB
    self.assertLess(bounded["rss_growth_mib"],
                    entries_only["rss_growth_mib"] - kept_out_mib / 2)


def main():
  global events_pb2
  argv = tailor_process_case.parse_command_line(__doc__)
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import events_pb2 as e
  events_pb2 = e
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
