# -*- coding: utf-8 -*-
# Copyright: hamail.webmail developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks of one webmail node, shared by the cluster_status module and its tests.

Every function here either parses text a node produced (so it can be unit-tested without a
node) or talks to localhost. Problems are phrased for an operator: what is wrong, where, and
what it means, never a stack trace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import random
import socket
import struct
import time

VRRP_STATES = ('MASTER', 'BACKUP', 'FAULT', 'STOP')

# Well-known names of the ports the node serves, for messages an operator can read.
PORT_NAMES = {
    25: 'SMTP',
    53: 'DNS',
    80: 'HTTP',
    143: 'IMAP',
    443: 'HTTPS',
    465: 'SMTPS',
    587: 'submission',
    993: 'IMAPS',
    4190: 'ManageSieve',
}

DNS_TYPE_SOA = 6
DNS_CLASS_IN = 1
DNS_RCODES = {
    0: 'NOERROR',
    1: 'FORMERR',
    2: 'SERVFAIL',
    3: 'NXDOMAIN',
    4: 'NOTIMP',
    5: 'REFUSED',
}


class DnsError(Exception):
    """A DNS answer that carries no usable SOA serial."""


def port_label(port):
    """Return 'port 993 (IMAPS)' or 'port 8443' for an unknown port."""
    name = PORT_NAMES.get(int(port))
    return 'port %d (%s)' % (int(port), name) if name else 'port %d' % int(port)


# --- VRRP ---------------------------------------------------------------------------------

def parse_vrrp_state(text):
    """Return the VRRP state written by keepalived's notify script, or None when unreadable.

    The file holds one word (MASTER, BACKUP, FAULT or STOP); anything after it on the line,
    such as a timestamp, is ignored.
    """
    if text is None:
        return None
    words = text.strip().split()
    if not words:
        return None
    state = words[0].upper()
    return state if state in VRRP_STATES else None


def parse_ipv4_addresses(ip_output):
    """Turn `ip -o -4 addr show` output into a list of (interface, address, prefix length)."""
    addresses = []
    for line in ip_output.splitlines():
        fields = line.split()
        if 'inet' not in fields:
            continue
        position = fields.index('inet')
        if position < 2 or position + 1 >= len(fields):
            continue
        interface = fields[1].rstrip(':').split('@')[0]
        address, _, prefix = fields[position + 1].partition('/')
        addresses.append((interface, address, int(prefix) if prefix.isdigit() else 32))
    return addresses


def find_address(addresses, wanted):
    """Return the interface holding the address, or None."""
    for interface, address, _prefix in addresses:
        if address == wanted:
            return interface
    return None


def vrrp_problems(node, state, vip_interface, virtual_ip, keepalived_active=True):
    """Problems in the VRRP state of one node, judged on that node alone.

    When keepalived is not running, the state file may be left over from before it stopped;
    the service check reports keepalived itself, so only a virtual IP left behind counts here.
    """
    holds_vip = vip_interface is not None
    if not keepalived_active:
        if holds_vip:
            return ['%s holds the virtual IP %s although keepalived is not running' % (node, virtual_ip)]
        return []
    if state is None:
        return ['the VRRP state of %s is unknown: keepalived has not reported it yet' % node]
    problems = []
    if state == 'FAULT':
        problems.append('%s is in VRRP state FAULT: keepalived found a tracked service down '
                        'and will not take the virtual IP' % node)
    elif state == 'STOP':
        problems.append('keepalived on %s reports STOP: it cannot take over the virtual IP' % node)
    if state == 'MASTER' and not holds_vip:
        problems.append('%s is VRRP master but does not hold the virtual IP %s' % (node, virtual_ip))
    if state != 'MASTER' and holds_vip:
        problems.append('%s holds the virtual IP %s while in VRRP state %s' % (node, virtual_ip, state))
    return problems


# --- DNS ----------------------------------------------------------------------------------

def encode_name(name):
    """Encode a domain name as DNS labels ('example.test' -> b'\\x07example\\x04test\\x00')."""
    encoded = b''
    for label in name.strip('.').split('.'):
        if not label:
            continue
        raw = label.encode('idna') if any(ord(char) > 127 for char in label) else label.encode('ascii')
        if len(raw) > 63:
            raise ValueError('DNS label longer than 63 bytes in %s' % name)
        encoded += struct.pack('!B', len(raw)) + raw
    return encoded + b'\x00'


def build_soa_query(zone, query_id):
    """A DNS query for the SOA record of the zone, without recursion."""
    header = struct.pack('!HHHHHH', query_id, 0x0000, 1, 0, 0, 0)
    return header + encode_name(zone) + struct.pack('!HH', DNS_TYPE_SOA, DNS_CLASS_IN)


def skip_name(message, offset):
    """Return the offset just after the (possibly compressed) name starting at offset."""
    while True:
        if offset >= len(message):
            raise DnsError('truncated name in answer')
        length = message[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length


def parse_soa_serial(message, query_id):
    """Return the SOA serial from a DNS answer to build_soa_query, or raise DnsError."""
    if len(message) < 12:
        raise DnsError('short answer (%d bytes)' % len(message))
    answer_id, flags, qdcount, ancount = struct.unpack('!HHHH', message[:8])
    if answer_id != query_id:
        raise DnsError('answer does not match the query')
    rcode = flags & 0x000F
    if rcode != 0:
        raise DnsError('server answered %s' % DNS_RCODES.get(rcode, 'rcode %d' % rcode))
    offset = 12
    for _question in range(qdcount):
        offset = skip_name(message, offset) + 4
    for _record in range(ancount):
        offset = skip_name(message, offset)
        if offset + 10 > len(message):
            raise DnsError('truncated answer')
        rtype, _rclass, _ttl, rdlength = struct.unpack('!HHIH', message[offset:offset + 10])
        offset += 10
        if rtype == DNS_TYPE_SOA:
            rdata_end = offset + rdlength
            position = skip_name(message, skip_name(message, offset))
            if position + 4 > rdata_end:
                raise DnsError('truncated SOA record')
            return struct.unpack('!I', message[position:position + 4])[0]
        offset += rdlength
    raise DnsError('no SOA record in the answer (the server is not authoritative for the zone)')


def query_soa_serial(zone, server='127.0.0.1', port=53, timeout=3.0):
    """Ask the DNS server for the zone's SOA serial over UDP; raise DnsError on failure."""
    query_id = random.randint(0, 0xFFFF)
    query = build_soa_query(zone, query_id)
    family = socket.AF_INET6 if ':' in server else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(query, (server, port))
        deadline = time.time() + timeout
        while True:
            try:
                message, _peer = sock.recvfrom(4096)
            except socket.timeout:
                raise DnsError('no answer within %g s' % timeout)
            except socket.error as error:
                raise DnsError('no answer (%s)' % error)
            try:
                return parse_soa_serial(message, query_id)
            except DnsError:
                # A stray datagram with another id: keep listening until the deadline.
                if len(message) >= 2 and struct.unpack('!H', message[:2])[0] == query_id:
                    raise
                if time.time() >= deadline:
                    raise DnsError('no answer within %g s' % timeout)
    finally:
        sock.close()


# --- services and ports -----------------------------------------------------------------------

def tcp_port_open(port, host='127.0.0.1', timeout=3.0):
    """True when something accepts a TCP connection on host:port."""
    try:
        connection = socket.create_connection((host, int(port)), timeout=timeout)
    except (socket.error, socket.timeout):
        return False
    connection.close()
    return True


def service_problem(node, service, state):
    """The problem with a systemd unit in the given `systemctl is-active` state, or None."""
    if state == 'active':
        return None
    return '%s is not running on %s (systemd state %s)' % (service, node, state or 'unknown')


# --- mailbox replication ----------------------------------------------------------------------

def parse_replication_status(text):
    """Parse the replication status file of the dovecot role; raise ValueError when invalid."""
    status = json.loads(text)
    if not isinstance(status, dict):
        raise ValueError('the replication status is not a JSON object')
    return status


def replication_report(node, status, now, max_age, max_pending):
    """Return (report, problems) for the replication status read from the node.

    A node is behind when its last successful sync with the peer is older than max_age
    seconds, or when more users than max_pending wait to be synced.
    """
    problems = []
    last_success = status.get('last_success')
    last_attempt = status.get('last_attempt')
    pending = status.get('pending_users')
    last_error = status.get('last_error') or ''
    age = None
    if isinstance(last_success, (int, float)) and last_success > 0:
        age = max(0, int(now - last_success))
    report = {
        'peer': status.get('peer'),
        'last_success': last_success,
        'last_attempt': last_attempt,
        'last_error': last_error,
        'pending_users': pending,
        'seconds_since_success': age,
    }
    peer = status.get('peer') or 'its peer'
    reason = ': %s' % last_error if last_error else ''
    if age is None:
        problems.append('mailboxes on %s have never been synced with %s%s' % (node, peer, reason))
    elif age > max_age:
        problems.append('mailbox replication from %s to %s last succeeded %s ago (limit %s)%s'
                        % (node, peer, human_duration(age), human_duration(max_age), reason))
    if isinstance(pending, int) and pending > max_pending:
        problems.append('%d mailboxes on %s wait to be synced with %s (limit %d)'
                        % (pending, node, peer, max_pending))
    report['behind'] = bool(problems)
    return report, problems


def human_duration(seconds):
    """'45 s', '12 min', '3.5 h', '2 days' for a number of seconds."""
    seconds = int(seconds)
    if seconds < 120:
        return '%d s' % seconds
    if seconds < 7200:
        return '%d min' % (seconds // 60)
    if seconds < 172800:
        return '%.1f h' % (seconds / 3600.0)
    return '%d days' % (seconds // 86400)


# --- certificate ------------------------------------------------------------------------------

def parse_openssl_enddate(text):
    """Return the epoch of `openssl x509 -enddate -noout` output ('notAfter=Dec  4 15:20:00 2027 GMT')."""
    value = text.strip()
    if '=' in value:
        value = value.split('=', 1)[1].strip()
    value = ' '.join(value.split())
    if value.endswith(' GMT'):
        value = value[:-4]
    try:
        parsed = time.strptime(value, '%b %d %H:%M:%S %Y')
    except ValueError:
        raise ValueError('unexpected certificate end date %r' % text.strip())
    return calendar.timegm(parsed)


def certificate_report(node, path, not_after, now, warn_days):
    """Return (report, problems, warnings) for a certificate ending at the epoch not_after."""
    seconds_left = not_after - now
    days_left = int(seconds_left // 86400)
    report = {
        'path': path,
        'not_after': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(not_after)),
        'days_left': days_left,
    }
    problems = []
    warnings = []
    if seconds_left <= 0:
        problems.append('the certificate %s on %s expired on %s' % (path, node, report['not_after'][:10]))
    elif days_left < warn_days:
        warnings.append('the certificate %s on %s expires in %d days (%s): rotate it'
                        % (path, node, days_left, report['not_after'][:10]))
    return report, problems, warnings
