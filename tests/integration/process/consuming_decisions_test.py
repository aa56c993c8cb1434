#!/usr/bin/env python3
"""The README's "Consuming decisions" examples, run as a subscriber runs them.

The kcat, Python and kafkajs examples are taken from README.md as they stand
(the first ```sh, ```python and ```js blocks of the section) and run against
a devbroker the personalizer has written decisions to. What they print is
compared with what an independent reader finds on the decision topics.

    consuming_decisions_test.py --personalizer=BIN --devbroker=BIN \\
        --loadgen=BIN --pydir=DIR --source_dir=REPO \\
        --descriptor_set=tailor_v1.desc [unittest arguments]

kafkajs comes from npm: the test installs it into its temporary directory and
is skipped (saying why) when node, npm or the registry is not available.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "pylib"))
import tailor_process_case  # noqa: E402
from tailor_procs import shop_start_ms  # noqa: E402
from tailor_process_case import DECISION_TOPICS, ProcessTestCase  # noqa: E402

DESCRIPTOR_SET = None  # --descriptor_set, set in main().
decision_pb2 = None  # tailor.v1 decision module, imported in main().

SECTION = "## Consuming decisions"
CODE_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)
KCAT_LINE = re.compile(r"^decisions\.cart-reminders\[\d+\]@\d+ "
                       r"customer=(?P<customer>c-\d+) (?P<headers>\S+)$")
PYTHON_LINE = re.compile(r"^(?P<topic>decisions\.[a-z-]+) (?P<customer>c-\d+) "
                         r"(?P<id>[0-9a-f]{32}) (?P<kind>DECISION_KIND_\w+) "
                         r"(?P<campaign>[a-z_]+)$")
JS_LINE = re.compile(r"^decisions\.push\[\d+\]@\d+ customer=(?P<customer>c-\d+)"
                     r" decision_id=(?P<id>[0-9a-f]{32})$")
EXAMPLE_TIMEOUT_S = 90


def readme_examples():
  """{language: code} of the first block of each language in the section."""
  with open(os.path.join(tailor_process_case.ARGS.source_dir, "README.md"),
            encoding="utf-8") as f:
    text = f.read()
  start = text.index(SECTION)
  end = text.find("\n## ", start + len(SECTION))
  section = text[start:end if end >= 0 else len(text)]
  blocks = {}
  for language, code in CODE_BLOCK.findall(section):
    blocks.setdefault(language, code)
  return blocks


class ConsumingDecisionsCase(ProcessTestCase):
  """A personalizer run whose decisions the examples then read."""

  def make_decisions(self, env_extra=None):
    """Runs the shop for a while; returns {topic: [decision messages]}."""
    self.start_broker(partitions=2)
    personalizer = self.start_personalizer(env_extra=env_extra)
    self.wait_ready(personalizer)
    load = self.run_loadgen("--rate=2000", "--duration=12s",
                            "--customers=20000", "--time_scale=600",
                            f"--start_ms={shop_start_ms()}")
    self.wait_processed(personalizer, load["produced"])
    self.stop_personalizer(personalizer)
    records = self.read_topics(DECISION_TOPICS)
    # A short run escalates nobody to an agent.
    for topic in ("decisions.coupons", "decisions.push",
                  "decisions.cart-reminders"):
      self.assertGreater(len(records[topic]), 0, f"nothing on {topic}")
    return records

  def example_env(self):
    return dict(os.environ,
                BOOTSTRAP=self.bootstrap,
                TAILOR_DESC=DESCRIPTOR_SET,
                PYTHONPATH=tailor_process_case.ARGS.pydir)

  def run_example(self, argv, what):
    result = subprocess.run(argv,
                            cwd=self.workdir,
                            env=self.example_env(),
                            capture_output=True,
                            text=True,
                            timeout=EXAMPLE_TIMEOUT_S,
                            check=False)
    self.assertEqual(result.returncode, 0,
                     f"{what} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def decode(msg):
  d = decision_pb2.Decision()
  d.ParseFromString(msg.value())
  return d


class KcatAndPythonTest(ConsumingDecisionsCase):
  """The kcat and Python examples, on the default compression (lz4)."""

  def test_examples_print_the_decisions(self):
    records = self.make_decisions()
    examples = readme_examples()
    self.assertIn("sh", examples)
    self.assertIn("python", examples)

    # kcat: one line per cart reminder with its key and decision id header,
    # then the first one decoded by protoc with the descriptor set.
    reminders = records["decisions.cart-reminders"]
    expected = {decode(m).decision_id: decode(m).customer_id for m in reminders}
    out = self.run_example(["bash", "-euo", "pipefail", "-c", examples["sh"]],
                           "the kcat example")
    lines = [l for l in out.splitlines() if KCAT_LINE.match(l)]
    self.assertEqual(len(lines), len(reminders), out[-3000:])
    printed = {}
    for line in lines:
      m = KCAT_LINE.match(line)
      headers = dict(h.split("=", 1) for h in m.group("headers").split(","))
      printed[headers["tailor-decision-id"]] = m.group("customer")
    self.assertEqual(printed, expected)
    decoded = re.findall(r'^decision_id: "([0-9a-f]{32})"$', out, re.M)
    self.assertEqual(len(decoded), 1, out[-3000:])
    self.assertIn(decoded[0], expected)
    self.assertRegex(out, r"(?m)^kind: DECISION_KIND_CART_REMINDER$")

    # Python: every decision once, decoded, from the delivery topics.
    sent = {}
    for topic in DECISION_TOPICS:
      for msg in records[topic]:
        d = decode(msg)
        if d.action == decision_pb2.DECISION_ACTION_SEND:
          sent[d.decision_id] = (topic, d.customer_id,
                                 decision_pb2.DecisionKind.Name(d.kind),
                                 d.campaign)
    self.assertGreater(len(sent), 0)
    out = self.run_example([sys.executable, "-c", examples["python"]],
                           "the Python example")
    printed = {}
    for line in out.splitlines():
      m = PYTHON_LINE.match(line)
      self.assertIsNotNone(m, f"unexpected line: {line!r}")
      self.assertNotIn(m.group("id"), printed, "a decision printed twice")
      printed[m.group("id")] = (m.group("topic"), m.group("customer"),
                                m.group("kind"), m.group("campaign"))
    self.assertEqual(printed, sent)


class KafkajsTest(ConsumingDecisionsCase):
  """The kafkajs example, with compression: gzip set by the environment."""

  def install_kafkajs(self):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
      self.skipTest("node or npm is not installed")
    try:
      result = subprocess.run([
          npm, "install", "--no-audit", "--no-fund", "--no-save",
          "--prefix", self.workdir, "kafkajs@2"
      ],
                              capture_output=True,
                              text=True,
                              timeout=180,
                              check=False)
    except subprocess.TimeoutExpired:
      self.skipTest("npm install kafkajs timed out")
    if result.returncode != 0:
      self.skipTest(f"npm install kafkajs failed: {result.stderr[-500:]}")
    return node

  def test_example_prints_the_push_decisions(self):
    node = self.install_kafkajs()
    examples = readme_examples()
    self.assertIn("js", examples)
    records = self.make_decisions(env_extra={"TAILOR_COMPRESSION": "gzip"})
    expected = {
        decode(m).decision_id: decode(m).customer_id
        for m in records["decisions.push"]
    }
    script = os.path.join(self.workdir, "consume.js")
    with open(script, "w", encoding="utf-8") as f:
      f.write(examples["js"])
    consumer = self.start(node, [node, script], env=self.example_env())
    consumer.name = "kafkajs"

    def printed():
      out = {}
      for line in consumer.stdout().splitlines():
        m = JS_LINE.match(line)
        if m:
          out[m.group("id")] = m.group("customer")
      return out

    self.wait_until(lambda: len(printed()) >= len(expected),
                    f"the kafkajs example to print {len(expected)} decisions",
                    timeout=EXAMPLE_TIMEOUT_S,
                    alive=[consumer])
    time.sleep(1)  # nothing more may come
    self.assertEqual(printed(), expected)


def main():
  global DESCRIPTOR_SET, decision_pb2
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument("--descriptor_set", required=True)
  args, rest = parser.parse_known_args()
  DESCRIPTOR_SET = os.path.abspath(args.descriptor_set)
  sys.argv = [sys.argv[0]] + rest
  argv = tailor_process_case.parse_command_line(__doc__.splitlines()[0])
  # pylint: disable=import-outside-toplevel
  from tailor.v1 import decision_pb2 as generated
  decision_pb2 = generated
  unittest.main(argv=argv, verbosity=2)


if __name__ == "__main__":
  main()
