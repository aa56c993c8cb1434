"""Helpers shared by tailor's process-level Python tests.

Starts tailor's programs as child processes that die with the test runner
(setpriv --pdeathsig where available), with their output in files, and
gives the shop start time the runs use.
"""

import datetime
import os
import shutil
import subprocess
import zoneinfo

PDEATHSIG = (["setpriv", "--pdeathsig", "KILL", "--"]
              if shutil.which("setpriv") else [])


def shop_start_ms():
  """10:00 today in Warsaw: inside everyone's waking hours (no quiet hours)."""
  warsaw = zoneinfo.ZoneInfo("Europe/Warsaw")
  ten = datetime.datetime.now(warsaw).replace(hour=10,
                                              minute=0,
                                              second=0,
                                              microsecond=0)
  return int(ten.timestamp() * 1000)


def read_text(path):
  try:
    with open(path, "rb") as f:
      return f.read().decode("utf-8", errors="replace")
  except FileNotFoundError:
    return ""


class Proc:
  """One started program; stdout and stderr go to files in the test dir."""

  def __init__(self, name, argv, workdir, env=None):
    self.name = name
    self.stdout_path = os.path.join(workdir, f"{name}.out")
    self.stderr_path = os.path.join(workdir, f"{name}.err")
    self._out = open(self.stdout_path, "wb")
    self._err = open(self.stderr_path, "wb")
    self.popen = subprocess.Popen(PDEATHSIG + list(argv),
                                  stdin=subprocess.DEVNULL,
                                  stdout=self._out,
                                  stderr=self._err,
                                  cwd=workdir,
                                  env=env)
    self.port = None  # HTTP port, for the personalizer.

  def stdout(self):
    return read_text(self.stdout_path)

  def stderr(self):
    return read_text(self.stderr_path)

  def alive(self):
    return self.popen.poll() is None

  def send(self, sig):
    self.popen.send_signal(sig)

  def wait(self, timeout):
    """The exit code; fails the test if the process is still running."""
    try:
      return self.popen.wait(timeout)
    except subprocess.TimeoutExpired:
      raise AssertionError(
          f"{self.name} still running after {timeout} s\n{self.tail()}")

  def kill(self):
    if self.popen.poll() is None:
      self.popen.kill()
      try:
        self.popen.wait(10)
      except subprocess.TimeoutExpired:
        pass
    self._out.close()
    self._err.close()

  def tail(self, lines=30):
    def last(text):
      return "\n".join(text.splitlines()[-lines:])

    return (f"--- {self.name} stderr (last {lines} lines)\n"
            f"{last(self.stderr())}\n"
            f"--- {self.name} stdout (last {lines} lines)\n"
            f"{last(self.stdout())}")
