#!/usr/bin/env python3
"""Failover probe: what a mail user sees while the cluster loses a node.

Runs on the client container. Python standard library only.

  failover_probe.py poll --config CONF --out DIR
      Until DIR/stop exists: every 100 ms polls HTTPS, IMAP (TLS, port 993) and SMTP on the
      virtual IP, notes which node holds the virtual IP (the client's ARP entry for it), and
      every --mail-every seconds sends one uniquely numbered mail over SMTP to the test user.
      Writes DIR/polls.jsonl and DIR/mails.jsonl.

  failover_probe.py report --config CONF --out DIR --rounds ROUNDS.json --report FILE
      Reads the mailbox of the test user on every node over IMAPS, counts each probe mail
      (found once, lost, duplicated; refused ones are only counted), and writes the JSON
      report: outage per protocol per round, virtual IP holder over time, mails.

CONF is a JSON file (kept off the command line, it holds a password):
  {"vip": "198.51.100.10", "domain": "example.test",
   "nodes": {"node1": "198.51.100.11", "node2": "198.51.100.12"},
   "recipient": "user2@example.test", "login": "user2@example.test", "password": "...",
   "ca_file": null, "verify_tls": true}
"""
import argparse
import imaplib
import json
import os
import smtplib
import socket
import ssl
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

POLL_EVERY = 0.1
POLL_TIMEOUT = 0.5
PROTOCOLS = ("https", "imap", "smtp")


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def tls_context(config):
    context = ssl.create_default_context(cafile=config.get("ca_file") or None)
    if not config.get("verify_tls", True):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# --- polls -----------------------------------------------------------------------------

def poll_https(config, context):
    name = "webmail." + config["domain"]
    with socket.create_connection((config["vip"], 443), timeout=POLL_TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname=name) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            status = sock.recv(256).split(b" ", 2)
            return status[0].startswith(b"HTTP/") and int(status[1]) < 500


def poll_imap(config, context):
    with socket.create_connection((config["vip"], 993), timeout=POLL_TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="mail." + config["domain"]) as sock:
            return sock.recv(256).startswith(b"* OK")


def poll_smtp(config, _context):
    with socket.create_connection((config["vip"], 25), timeout=POLL_TIMEOUT) as sock:
        greeting = sock.recv(256)
        sock.sendall(b"QUIT\r\n")
        return greeting.startswith(b"220")


POLLS = {"https": poll_https, "imap": poll_imap, "smtp": poll_smtp}


def arp_table():
    """The client's ARP table: IPv4 address -> MAC (complete entries only)."""
    table = {}
    with open("/proc/net/arp", encoding="ascii") as handle:
        for line in handle.readlines()[1:]:
            fields = line.split()
            if len(fields) >= 4 and fields[2] != "0x0":
                table[fields[0]] = fields[3]
    return table


def node_macs(config):
    """Learn each node's MAC by talking to it once (fills the ARP table)."""
    for address in config["nodes"].values():
        try:
            socket.create_connection((address, 25), timeout=1).close()
        except OSError:
            pass
    table = arp_table()
    return {table[address]: name for name, address in config["nodes"].items() if address in table}


def poll_loop(config, protocol, log, lock, stop):
    """Poll one protocol every POLL_EVERY seconds, on its own, so a slow one delays no other."""
    context = tls_context(config)
    while not stop.is_set():
        started = time.time()
        try:
            good = bool(POLLS[protocol](config, context))
        except (OSError, ValueError, IndexError):
            good = False
        with lock:
            log.write(json.dumps({"t": round(started, 3), "protocol": protocol, "ok": good}) + "\n")
        stop.wait(max(0.0, POLL_EVERY - (time.time() - started)))


def holder_loop(config, log, lock, stop):
    """Note which node the client reaches at the virtual IP (by the MAC in its ARP table)."""
    macs = node_macs(config)
    while not stop.is_set():
        started = time.time()
        mac = arp_table().get(config["vip"])
        if mac and mac not in macs:
            macs.update(node_macs(config))
        with lock:
            log.write(json.dumps({"t": round(started, 3), "holder": macs.get(mac, mac)}) + "\n")
        stop.wait(max(0.0, POLL_EVERY - (time.time() - started)))


# --- mails -----------------------------------------------------------------------------

def mail_loop(config, out, stop, every):
    run_id = uuid.uuid4().hex[:8]
    number = 0
    with open(os.path.join(out, "mails.jsonl"), "a", encoding="utf-8") as log:
        while not stop.is_set():
            number += 1
            started = time.time()
            message = EmailMessage()
            message["From"] = "failover-probe@client." + config["domain"]
            message["To"] = config["recipient"]
            message["Subject"] = f"hamail failover probe {run_id} {number}"
            message["Message-ID"] = make_msgid(f"probe-{run_id}-{number}", "client." + config["domain"])
            message.set_content(f"Probe mail {number}, sent at {started:.3f}.\n")
            record = {"t": round(started, 3), "id": message["Message-ID"], "accepted": False}
            try:
                with smtplib.SMTP(config["vip"], 25, timeout=5) as smtp:
                    smtp.send_message(message)
                record["accepted"] = True
            except (OSError, smtplib.SMTPException) as error:
                record["error"] = f"{type(error).__name__}: {error}"[:200]
            log.write(json.dumps(record) + "\n")
            log.flush()
            stop.wait(max(0.0, every - (time.time() - started)))


def command_poll(args):
    config = load_config(args.config)
    os.makedirs(args.out, exist_ok=True)
    stop = threading.Event()
    lock = threading.Lock()
    with open(os.path.join(args.out, "polls.jsonl"), "a", encoding="utf-8", buffering=1) as log:
        workers = [threading.Thread(target=poll_loop, args=(config, p, log, lock, stop)) for p in PROTOCOLS]
        workers.append(threading.Thread(target=holder_loop, args=(config, log, lock, stop)))
        if args.mail_every > 0:
            workers.append(threading.Thread(target=mail_loop, args=(config, args.out, stop, args.mail_every)))
        for worker in workers:
            worker.start()
        stop_file = os.path.join(args.out, "stop")
        while not os.path.exists(stop_file):
            time.sleep(0.2)
        stop.set()
        for worker in workers:
            worker.join()
    return 0


# --- report ----------------------------------------------------------------------------

def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def longest_outage(samples, protocol):
    """Longest span of consecutive failed polls, from the first failed poll to the next good one."""
    polls = [s for s in samples if s.get("protocol") == protocol]
    longest = 0.0
    down_since = None
    for poll in polls:
        if not poll["ok"]:
            if down_since is None:
                down_since = poll["t"]
        elif down_since is not None:
            longest = max(longest, poll["t"] - down_since)
            down_since = None
    if down_since is not None and polls:
        longest = max(longest, polls[-1]["t"] + POLL_EVERY - down_since)
    return round(longest, 2)


def holder_changes(samples):
    changes = []
    for poll in (s for s in samples if "holder" in s):
        if not changes or changes[-1]["holder"] != poll["holder"]:
            changes.append({"t": poll["t"], "holder": poll["holder"]})
    return changes


class NodeIMAP(imaplib.IMAP4_SSL):
    """IMAP over TLS to a node address, checking the certificate for the service name."""

    def __init__(self, address, name, context):
        self._tls_name = name
        super().__init__(address, 993, ssl_context=context, timeout=10)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._tls_name)


def mailbox_ids(config, address):
    """Message-IDs in the test user's INBOX on one node, with how often each occurs."""
    counts = {}
    context = tls_context(config)
    with NodeIMAP(address, "mail." + config["domain"], context) as imap:
        imap.login(config.get("login") or config["recipient"], config["password"])
        status, data = imap.select("INBOX", readonly=True)
        if status == "OK" and int(data[0]) > 0:
            status, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for item in data:
                if isinstance(item, tuple):
                    header = item[1].decode("ascii", "replace").strip()
                    value = header.split(":", 1)[1].strip() if ":" in header else ""
                    counts[value] = counts.get(value, 0) + 1
        imap.logout()
    return counts


def count_mails(config, mails, wait):
    accepted = [m for m in mails if m["accepted"]]
    if not mails:
        return {}
    deadline = time.time() + wait
    while True:
        per_node = {}
        for name, address in config["nodes"].items():
            try:
                per_node[name] = mailbox_ids(config, address)
            except (OSError, imaplib.IMAP4.error) as error:
                per_node[name] = {"_error": str(error)}
        missing = [m for m in accepted if not any(m["id"] in ids for ids in per_node.values())]
        # A second copy lives until the next sync removes it: wait that out like a missing mail.
        twice = [m for m in accepted if any(ids.get(m["id"], 0) > 1 for ids in per_node.values())]
        if not (missing or twice) or time.time() > deadline:
            return per_node
        time.sleep(5)


def command_report(args):
    config = load_config(args.config)
    polls = read_jsonl(os.path.join(args.out, "polls.jsonl"))
    mails_file = os.path.join(args.out, "mails.jsonl")
    mails = read_jsonl(mails_file) if os.path.exists(mails_file) else []
    with open(args.rounds, encoding="utf-8") as handle:
        rounds = json.load(handle)

    per_node = count_mails(config, mails, args.wait)
    mail_rows = []
    for mail in mails:
        counts = {name: ids.get(mail["id"], 0) for name, ids in per_node.items()}
        if not mail["accepted"]:
            verdict = "refused"
        elif not any(counts.values()):
            verdict = "lost"
        elif max(counts.values()) > 1:
            verdict = "duplicated"
        else:
            verdict = "found"
        mail_rows.append({**mail, "on_nodes": counts, "verdict": verdict})

    report_rounds = []
    for item in rounds:
        window = [p for p in polls if item["start"] <= p["t"] <= item["end"]]
        sent = [m for m in mail_rows if item["start"] <= m["t"] <= item["end"]]
        report_rounds.append({
            **item,
            "polls": sum(1 for p in window if "protocol" in p),
            "outage_seconds": {p: longest_outage(window, p) for p in PROTOCOLS},
            "vip_holder": holder_changes(window),
            "mails": {v: sum(1 for m in sent if m["verdict"] == v)
                      for v in ("found", "lost", "duplicated", "refused")},
        })

    totals = {v: sum(1 for m in mail_rows if m["verdict"] == v)
              for v in ("found", "lost", "duplicated", "refused")}
    report = {
        "vip": config["vip"],
        "nodes": config["nodes"],
        "poll_interval_seconds": POLL_EVERY,
        "poll_timeout_seconds": POLL_TIMEOUT,
        "rounds": report_rounds,
        "vip_holder_over_time": holder_changes(polls),
        "mails": {"sent": len(mail_rows), **totals,
                  "on_every_node": sum(1 for m in mail_rows
                                       if m["accepted"] and all(m["on_nodes"].values()))},
        "mail_log": mail_rows,
        "mailbox_errors": {n: ids["_error"] for n, ids in per_node.items() if "_error" in ids},
    }
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    summary = {r["name"]: r["outage_seconds"] for r in report_rounds}
    print(json.dumps({"outages": summary, "mails": report["mails"]}))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    poll = sub.add_parser("poll")
    poll.add_argument("--config", required=True)
    poll.add_argument("--out", required=True)
    poll.add_argument("--mail-every", type=float, default=1.0, help="seconds between mails; 0: send none")
    report = sub.add_parser("report")
    report.add_argument("--config", required=True)
    report.add_argument("--out", required=True)
    report.add_argument("--rounds", required=True)
    report.add_argument("--report", required=True)
    report.add_argument("--wait", type=float, default=90, help="seconds to wait for mails to arrive")
    args = parser.parse_args()
    return command_poll(args) if args.command == "poll" else command_report(args)


if __name__ == "__main__":
    sys.exit(main())
