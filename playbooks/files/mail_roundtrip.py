#!/usr/bin/env python3
"""Send a mail through the service and read it back, as a mail user's program would.

Submits a message with a unique Message-ID over SMTP submission (port 587, STARTTLS, AUTH),
then polls the mailbox over IMAPS (port 993) until the message is there, and deletes it again.
The password is read from standard input, so it never shows in a process list.

Prints one JSON object: {"ok", "error", "seconds", "message_id", "stage"}; the exit status
is 0 when the mail came back, 1 when not. Python standard library only.

    echo "$PASSWORD" | python3 mail_roundtrip.py --host 198.51.100.10 \
        --server-name mail.example.test --user user1@example.test
"""

import argparse
import imaplib
import json
import smtplib
import ssl
import sys
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate


class Stage:
    """Remembers which step of the round trip is running, for the error message."""

    name = 'start'


class PinnedNameSMTP(smtplib.SMTP):
    """SMTP to an address, with the certificate checked against the service name."""

    def __init__(self, host, port, server_name, timeout):
        self.server_name = server_name
        super().__init__(host, port, timeout=timeout)

    def starttls(self, context=None):
        # smtplib checks the certificate against the host it connected to (an address here);
        # the certificate names the service, so check it against that name instead.
        self._host = self.server_name
        return super().starttls(context=context)


class PinnedNameIMAP(imaplib.IMAP4_SSL):
    """IMAPS to an address, with the certificate checked against the service name."""

    def __init__(self, host, port, server_name, context, timeout):
        self.server_name = server_name
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.server_name)


def tls_context(cafile):
    context = ssl.create_default_context(cafile=cafile) if cafile else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def send(args, password, message_id, context):
    Stage.name = 'SMTP submission on %s:%d' % (args.host, args.smtp_port)
    message = EmailMessage()
    message['From'] = args.user
    message['To'] = args.recipient or args.user
    message['Subject'] = 'hamail round trip %s' % message_id
    message['Date'] = formatdate(localtime=False)
    message['Message-ID'] = message_id
    message.set_content('Round trip check of the webmail cluster; this message deletes itself.\n')
    with PinnedNameSMTP(args.host, args.smtp_port, args.server_name, args.timeout) as smtp:
        smtp.ehlo('roundtrip-probe')
        smtp.starttls(context=context)
        smtp.ehlo('roundtrip-probe')
        Stage.name = 'SMTP AUTH as %s' % args.user
        smtp.login(args.user, password)
        Stage.name = 'SMTP sending'
        smtp.send_message(message)


def find(args, password, message_id, context, deadline):
    Stage.name = 'IMAPS on %s:%d' % (args.host, args.imap_port)
    search = '(HEADER Message-ID "%s")' % message_id
    while True:
        imap = PinnedNameIMAP(args.host, args.imap_port, args.server_name, context, args.timeout)
        try:
            Stage.name = 'IMAP LOGIN as %s' % args.user
            imap.login(args.user, password)
            Stage.name = 'IMAP reading INBOX'
            imap.select('INBOX')
            status, data = imap.uid('SEARCH', None, search)
            uids = data[0].split() if status == 'OK' and data and data[0] else []
            if uids:
                for uid in uids:
                    imap.uid('STORE', uid, '+FLAGS.SILENT', r'(\Deleted)')
                imap.expunge()
                return True
        finally:
            try:
                imap.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Mail round trip through the service.')
    parser.add_argument('--host', required=True, help='address to connect to (the virtual IP)')
    parser.add_argument('--server-name', required=True, help='name the certificate must carry')
    parser.add_argument('--user', required=True, help='mail user to log in as')
    parser.add_argument('--recipient', help='address to send to (default: the user)')
    parser.add_argument('--smtp-port', type=int, default=587)
    parser.add_argument('--imap-port', type=int, default=993)
    parser.add_argument('--cafile', help='CA to trust (default: the system trust store)')
    parser.add_argument('--wait', type=float, default=30.0, help='seconds to wait for the mail')
    parser.add_argument('--timeout', type=float, default=10.0, help='seconds per connection')
    args = parser.parse_args(argv)

    password = sys.stdin.readline().rstrip('\n')
    domain = args.user.rpartition('@')[2] or 'localhost'
    message_id = '<roundtrip-%s@%s>' % (uuid.uuid4().hex, domain)
    started = time.monotonic()
    result = {'ok': False, 'error': '', 'seconds': None, 'message_id': message_id, 'stage': ''}
    try:
        context = tls_context(args.cafile)
        send(args, password, message_id, context)
        found = find(args, password, message_id, context, started + args.wait)
        result['seconds'] = round(time.monotonic() - started, 2)
        if found:
            result['ok'] = True
        else:
            result['error'] = 'the mail was accepted but did not reach the mailbox within %g s' % args.wait
    except (smtplib.SMTPException, imaplib.IMAP4.error, ssl.SSLError, OSError) as error:
        result['error'] = '%s: %s' % (Stage.name, error)
    result['stage'] = Stage.name
    print(json.dumps(result, sort_keys=True))
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
