"""Starts the real mquicttd on 127.0.0.1 with a kernel-chosen port, for interop tests."""
import os
import re
import signal
import subprocess
import tempfile
import threading
import time


class Daemon:
    def __init__(self, binary, extra_yaml="", wait_for=("tcp",)):
        """extra_yaml is appended after the tcp listener (it may add more `  - ` listener items);
        start() waits until a listener of each transport in wait_for has logged its port."""
        self.binary = binary
        self.wait_for = set(wait_for)
        self.ports = {}  # transport -> first port logged for it, e.g. {"tcp": 40123, "quic": 51234}
        self.dir = tempfile.mkdtemp(prefix="mquictt-interop-")
        self.config = os.path.join(self.dir, "mquictt.yaml")
        with open(self.config, "w") as f:
            f.write('listeners:\n  - name: tcp\n    transport: tcp\n    bind: "127.0.0.1:0"\n')
            f.write(extra_yaml)
        self.log = []
        self.port = None
        self.proc = None

    def start(self, timeout=20):
        self.proc = subprocess.Popen([self.binary, "-c", self.config, "-v"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        found = threading.Event()

        def reader():
            for line in self.proc.stdout:
                self.log.append(line)
                m = re.search(r"listening on (\w+) 127\.0\.0\.1:(\d+)", line)
                if m:
                    self.ports.setdefault(m.group(1), int(m.group(2)))
                    if self.port is None and "tcp" in self.ports:
                        self.port = self.ports["tcp"]
                    if self.wait_for <= self.ports.keys():
                        found.set()
            found.set()  # output ended: the daemon exited, so stop waiting for it

        threading.Thread(target=reader, daemon=True).start()
        if not found.wait(timeout) or not self.wait_for <= self.ports.keys():
            self.stop()
            raise RuntimeError("mquicttd did not start:\n" + "".join(self.log))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def logs(self):
        return "".join(self.log)


def wait_until(pred, timeout=5.0, step=0.02):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()
