"""MQTT over QUIC interoperability with an independent QUIC stack: runs the quic-go based
checker (tests/interop/quicgo, built by its build.sh) against the real mquicttd.

Usage: /usr/bin/python3 quicgo_test.py MQUICTTD CHECKER [--mqtt 5,4] SCENARIO...
  SCENARIO: basic | multistream | streamsub | alpn | zerortt | replay
  (see tests/interop/quicgo/main.go)

One daemon with a QUIC listener on 127.0.0.1:0 (certificate from tests/data/certs) serves
every run; the checker runs once per MQTT version. Exit status 0 only if every check passed.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from daemon import Daemon  # noqa: E402

CERTS = os.path.join(HERE, "..", "data", "certs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("daemon")
    ap.add_argument("checker")
    ap.add_argument("--mqtt", default="5,4", help="protocol levels to run, comma-separated")
    ap.add_argument("scenarios", nargs="+")
    args = ap.parse_args()

    if not os.access(args.checker, os.X_OK):
        print(f"FAIL checker {args.checker} not built (interop_quicgo_build fixture)")
        return 1
    cert = os.path.realpath(os.path.join(CERTS, "server.pem"))
    key = os.path.realpath(os.path.join(CERTS, "server.key"))
    ca = os.path.realpath(os.path.join(CERTS, "ca.pem"))
    quic = ('  - name: quic\n    transport: quic\n    bind: "127.0.0.1:0"\n'
            f'    tls: {{cert_file: "{cert}", key_file: "{key}"}}\n')
    d = Daemon(args.daemon, extra_yaml=quic, wait_for=("tcp", "quic"))
    try:
        d.start()
    except RuntimeError as e:
        print(f"FAIL daemon with a quic listener did not start: {e}")
        return 1

    failed = False
    try:
        for level in args.mqtt.split(","):
            cmd = [args.checker, "-addr", f"127.0.0.1:{d.ports['quic']}", "-ca", ca,
                   "-servername", "localhost", "-mqtt", level] + args.scenarios
            print("$ " + " ".join(cmd), flush=True)
            try:
                # Each answer times out after 5 s inside the checker; this only guards a hang.
                r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, timeout=120)
                out, rc = r.stdout, r.returncode
            except subprocess.TimeoutExpired as e:
                # TimeoutExpired carries bytes even with text=True.
                out = (e.stdout or b"").decode(errors="replace") + "FAIL checker hung for 120 s\n"
                rc = -1
            sys.stdout.write(out)
            if rc != 0 or "PASS" not in out:
                failed = True
                print(f"checker exited with status {rc}")
    finally:
        rc = d.stop()
    if rc not in (0, None):
        failed = True
        print(f"FAIL mquicttd exited with status {rc} on SIGTERM")
    if failed:
        print("---- mquicttd log ----")
        sys.stdout.write(d.logs())
        return 1
    print("all quic-go checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
