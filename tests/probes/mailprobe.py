#!/usr/bin/env python3
"""Black-box mail checks for hamail.webmail, run on the client container.

Each subcommand talks to one node (or the virtual IP) through a real protocol and prints one
JSON object; the Ansible checks in extensions/molecule/cluster/verify/mail.yml assert on it.
Passwords come from the environment (PROBE_PASSWORD), never from the command line.
Python standard library only.
"""

import argparse
import imaplib
import json
import os
import smtplib
import socket
import ssl
import sys
import time
import uuid
import warnings
from email.message import EmailMessage

TIMEOUT = 15

# The TLS 1.0/1.1 probes exist to show that the servers refuse those versions.
warnings.filterwarnings("ignore", category=DeprecationWarning)


def tls_context(args):
    context = ssl.create_default_context(cafile=args.cafile or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def out(**result):
    print(json.dumps(result, sort_keys=True))
    return 0


def password():
    value = os.environ.get("PROBE_PASSWORD", "")
    if not value:
        sys.exit("PROBE_PASSWORD is not set")
    return value


class NamedSMTP(smtplib.SMTP):
    """SMTP to an address, with the certificate checked against a service name."""

    def __init__(self, host, port, tls_name, **kwargs):
        self.tls_name = tls_name
        super().__init__(host, port, timeout=TIMEOUT, **kwargs)

    def starttls_named(self, context):
        code, reply = self.docmd("STARTTLS")
        if code != 220:
            raise smtplib.SMTPResponseException(code, reply)
        self.sock = context.wrap_socket(self.sock, server_hostname=self.tls_name)
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        self.ehlo("client.probe")


def smtp_connect(args):
    """An SMTP session on args.port: implicit TLS on 465, STARTTLS if asked."""
    context = tls_context(args)
    if args.port == 465:
        raw = socket.create_connection((args.host, args.port), timeout=TIMEOUT)
        wrapped = context.wrap_socket(raw, server_hostname=args.tls_name)
        smtp = smtplib.SMTP(timeout=TIMEOUT)
        smtp.sock = wrapped
        smtp.file = None
        code, msg = smtp.getreply()
        if code != 220:
            raise smtplib.SMTPConnectError(code, msg)
        smtp.ehlo("client.probe")
        return smtp
    smtp = NamedSMTP(args.host, args.port, args.tls_name)
    smtp.ehlo("client.probe")
    if args.starttls:
        smtp.starttls_named(context)
    return smtp


def cmd_send(args):
    """Send a message, logging in if --user is given. Prints the subject and the outcome."""
    subject = args.subject or f"hamail probe {uuid.uuid4()}"
    message = EmailMessage()
    message["From"] = args.sender
    message["To"] = args.to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4()}@probe.invalid>"
    message.set_content(args.body or f"Sent by mailprobe at {time.time():.3f}\n")
    try:
        smtp = smtp_connect(args)
        if args.user:
            smtp.login(args.user, password())
        refused = smtp.send_message(message, from_addr=args.sender, to_addrs=[args.to])
        smtp.quit()
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = list(error.recipients.values())[0]
        return out(accepted=False, stage="rcpt", code=code, reply=reply.decode(errors="replace"),
                   subject=subject)
    except smtplib.SMTPSenderRefused as error:
        return out(accepted=False, stage="mail", code=error.smtp_code,
                   reply=error.smtp_error.decode(errors="replace"), subject=subject)
    except smtplib.SMTPAuthenticationError as error:
        return out(accepted=False, stage="auth", code=error.smtp_code,
                   reply=error.smtp_error.decode(errors="replace"), subject=subject)
    return out(accepted=not refused, stage="done", code=250, reply="", subject=subject)


def cmd_rcpt(args):
    """Open an SMTP dialogue without logging in and report the reply to RCPT TO."""
    smtp = smtp_connect(args)
    code, reply = smtp.mail(args.sender)
    if code != 250:
        smtp.quit()
        return out(stage="mail", code=code, reply=reply.decode(errors="replace"))
    code, reply = smtp.rcpt(args.to)
    smtp.rset()
    smtp.quit()
    return out(stage="rcpt", code=code, reply=reply.decode(errors="replace"))


def cmd_ehlo(args):
    """Report what EHLO offers before and after STARTTLS (AUTH must come only after)."""
    smtp = NamedSMTP(args.host, args.port, args.tls_name)
    smtp.ehlo("client.probe")
    before = sorted(smtp.esmtp_features)
    auth_before = smtp.has_extn("auth")
    starttls = smtp.has_extn("starttls")
    auth_after = False
    tls_version = ""
    if starttls:
        smtp.starttls_named(tls_context(args))
        auth_after = smtp.has_extn("auth")
        tls_version = smtp.sock.version()
    smtp.quit()
    return out(features_before_tls=before, auth_before_tls=auth_before, starttls=starttls,
               auth_after_tls=auth_after, tls_version=tls_version)


def cmd_tls_version(args):
    """Try a handshake limited to one TLS version on an implicit-TLS port."""
    context = tls_context(args)
    version = getattr(ssl.TLSVersion, args.version)
    context.minimum_version = version
    context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        # Let this client offer the old versions, so that a refusal is the server's.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with socket.create_connection((args.host, args.port), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=args.tls_name) as tls:
                return out(handshake=True, version=tls.version())
    except (ssl.SSLError, OSError) as error:
        return out(handshake=False, error=str(error))


class NamedIMAP4SSL(imaplib.IMAP4_SSL):
    """IMAPS to an address, with the certificate checked against a service name."""

    def __init__(self, host, port, tls_name, context):
        self.tls_name = tls_name
        super().__init__(host, port, ssl_context=context, timeout=TIMEOUT)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.tls_name)


def imap_connect(args):
    if args.port == 993:
        return NamedIMAP4SSL(args.host, args.port, args.tls_name, tls_context(args))
    imap = imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)
    if args.starttls:
        # imaplib checks the name given at connect time; check against the service name.
        imap.host = args.tls_name
        imap.starttls(ssl_context=tls_context(args))
    return imap


def cmd_imap_plain(args):
    """Try LOGIN on 143 without TLS. Reports the capabilities and whether LOGIN worked."""
    imap = imaplib.IMAP4(args.host, args.port, timeout=TIMEOUT)
    caps = sorted(cap.decode() if isinstance(cap, bytes) else cap for cap in imap.capabilities)
    try:
        imap.login(args.user, password())
        logged_in = True
        reply = ""
        imap.logout()
    except imaplib.IMAP4.error as error:
        logged_in = False
        reply = str(error)
    return out(capabilities=caps, logged_in=logged_in, reply=reply)


def find(imap, subject, mailbox="INBOX"):
    typ, _ = imap.select(f'"{mailbox}"')
    if typ != "OK":
        # Not there (yet): a replicated folder may still be on its way.
        return []
    typ, data = imap.search(None, "HEADER", "Subject", f'"{subject}"')
    if typ != "OK":
        return []
    return data[0].split()


def cmd_count(args):
    """Count messages with a subject (prefix match) in a mailbox, polling until --expect."""
    started = time.monotonic()
    deadline = started + args.wait
    while True:
        try:
            imap = imap_connect(args)
            imap.login(args.user, password())
        except (OSError, imaplib.IMAP4.error) as error:
            # A node that is still starting refuses connections: keep polling until the deadline.
            if time.monotonic() >= deadline:
                return out(count=0, flagged=0, unique=0, error=str(error),
                           seconds=round(time.monotonic() - started, 2))
            time.sleep(0.5)
            continue
        ids = find(imap, args.subject, args.mailbox)
        flagged = 0
        message_ids = []
        if ids:
            typ, data = imap.fetch(b",".join(ids), "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for part in data:
                if isinstance(part, tuple):
                    if b"\\Flagged" in part[0]:
                        flagged += 1
                    message_ids.append(part[1].decode(errors="replace").strip())
        imap.logout()
        if args.exact:
            done = len(ids) == args.expect == len(set(message_ids))
        else:
            done = len(ids) >= args.expect
        done = done and (not args.flagged or flagged >= args.expect)
        if done or time.monotonic() >= deadline:
            return out(count=len(ids), flagged=flagged, unique=len(set(message_ids)),
                       seconds=round(time.monotonic() - started, 2))
        time.sleep(0.25)


def cmd_append(args):
    """Create a folder (when it is missing) and append one message to it, as a mail client
    saving a draft or a sent message does."""
    imap = imap_connect(args)
    imap.login(args.user, password())
    quoted = f'"{args.mailbox}"'
    imap.create(quoted)  # NO when it exists already: fine
    message = EmailMessage()
    message["From"] = args.user
    message["To"] = args.user
    message["Subject"] = args.subject
    message["Message-ID"] = f"<{uuid.uuid4()}@probe.invalid>"
    message.set_content("Saved by the hamail mail probe.\n")
    typ, data = imap.append(quoted, None, None, message.as_bytes())
    imap.logout()
    return out(appended=typ == "OK", reply=(data[0] or b"").decode(errors="replace"),
               subject=args.subject)


def cmd_flag(args):
    """Set \\Flagged on every message with the subject."""
    imap = imap_connect(args)
    imap.login(args.user, password())
    ids = find(imap, args.subject, args.mailbox)
    if ids:
        imap.store(b",".join(ids), "+FLAGS", "(\\Flagged)")
    imap.logout()
    return out(flagged=len(ids))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="node address or virtual IP")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tls-name", required=True, help="name the certificate must carry")
    parser.add_argument("--cafile", default="", help="CA bundle (default: the system's)")
    parser.add_argument("--starttls", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send")
    send.add_argument("--user", default="")
    send.add_argument("--sender", required=True)
    send.add_argument("--to", required=True)
    send.add_argument("--subject", default="")
    send.add_argument("--body", default="")
    send.set_defaults(func=cmd_send)

    rcpt = sub.add_parser("rcpt")
    rcpt.add_argument("--sender", required=True)
    rcpt.add_argument("--to", required=True)
    rcpt.set_defaults(func=cmd_rcpt)

    sub.add_parser("ehlo").set_defaults(func=cmd_ehlo)

    tls = sub.add_parser("tls-version")
    tls.add_argument("--version", required=True, choices=["TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"])
    tls.set_defaults(func=cmd_tls_version)

    plain = sub.add_parser("imap-plain-login")
    plain.add_argument("--user", required=True)
    plain.set_defaults(func=cmd_imap_plain)

    count = sub.add_parser("count")
    count.add_argument("--user", required=True)
    count.add_argument("--subject", required=True)
    count.add_argument("--mailbox", default="INBOX")
    count.add_argument("--expect", type=int, default=0)
    count.add_argument("--flagged", action="store_true", help="also wait until all are flagged")
    count.add_argument("--wait", type=float, default=0, help="poll up to this many seconds")
    count.add_argument("--exact", action="store_true",
                       help="poll until exactly --expect messages, each once (not at least)")
    count.set_defaults(func=cmd_count)

    append = sub.add_parser("append")
    append.add_argument("--user", required=True)
    append.add_argument("--mailbox", required=True)
    append.add_argument("--subject", required=True)
    append.set_defaults(func=cmd_append)

    flag = sub.add_parser("flag")
    flag.add_argument("--user", required=True)
    flag.add_argument("--subject", required=True)
    flag.add_argument("--mailbox", default="INBOX")
    flag.set_defaults(func=cmd_flag)

    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
