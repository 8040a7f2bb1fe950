#!/usr/bin/python3
"""Checks a qlog file written by mquicttd (docs/qlog.md) with a real JSON parser.

usage: check_qlog.py FILE [EXPECTED ...]

FILE must be JSON-SEQ (RFC 7464): every record is 0x1E, one UTF-8 JSON text, '\\n'. The first
record is the qlog 0.3 header; every other record is an event {"time", "name", "data"} whose
times never decrease (qvis requires it). MQTT events (mqtt:packet_received / mqtt:packet_sent)
must carry stream_id, packet_type and length.

Each EXPECTED is a JSON object that some event must contain (a recursive subset match: objects
may have more keys, lists and scalars must be equal); the matches must come in the given order.

Exit status 0 when everything holds; otherwise 1 with the reason on stdout.
"""
import json
import sys

MQTT_EVENTS = ("mqtt:packet_received", "mqtt:packet_sent")


def contains(actual, expected):
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return expected == actual


def parse(raw):
    if not raw.startswith(b"\x1e"):
        raise ValueError("file does not start with a record separator (0x1E)")
    records = []
    for i, chunk in enumerate(raw.split(b"\x1e")[1:]):
        if not chunk.endswith(b"\n"):
            raise ValueError(f"record {i} does not end with a line feed: {chunk[:200]!r}")
        try:
            text = chunk.decode("utf-8")  # strict: invalid UTF-8 fails
            records.append(json.loads(text))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"record {i} is not valid JSON ({e}): {chunk[:300]!r}") from e
    return records


def check(records):
    if not records:
        raise ValueError("no records")
    header = records[0]
    if header.get("qlog_format") != "JSON-SEQ" or header.get("qlog_version") != "0.3":
        raise ValueError(f"bad header: {header}")
    if header["trace"]["common_fields"].get("time_format") != "relative":
        raise ValueError(f"unexpected time format: {header}")
    last = None
    events = records[1:]
    for i, e in enumerate(events, start=1):
        if not isinstance(e, dict) or set(("time", "name", "data")) - set(e):
            raise ValueError(f"record {i} is not an event: {e}")
        t = e["time"]
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise ValueError(f"record {i}: time is not a number: {e}")
        if last is not None and t < last:
            raise ValueError(f"record {i}: time {t} < {last} (file not in time order)")
        last = t
        if ":" not in e["name"] or not isinstance(e["data"], dict):
            raise ValueError(f"record {i}: bad name or data: {e}")
        if e["name"].startswith("mqtt:"):
            d = e["data"]
            if e["name"] not in MQTT_EVENTS or not isinstance(d.get("stream_id"), int) or \
                    not isinstance(d.get("packet_type"), str) or \
                    not isinstance(d.get("length"), int):
                raise ValueError(f"record {i}: bad MQTT event: {e}")
    return events


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    try:
        with open(argv[1], "rb") as f:
            events = check(parse(f.read()))
        expected = [json.loads(a) for a in argv[2:]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"{argv[1]}: {e}")
        return 1
    mqtt = [e for e in events if e["name"].startswith("mqtt:")]
    pos = 0
    for want in expected:
        while pos < len(mqtt) and not contains(mqtt[pos], want):
            pos += 1
        if pos == len(mqtt):
            print(f"{argv[1]}: no event (in order) matching {json.dumps(want)}")
            print("MQTT events:")
            for e in mqtt:
                print("  " + json.dumps(e, ensure_ascii=False))
            return 1
        pos += 1
    print(f"{argv[1]}: {len(events) + 1} records, {len(mqtt)} MQTT events, "
          f"{len(expected)} expectations met")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
