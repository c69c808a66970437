"""Unit tests of the node health checks (plugins/module_utils/cluster_health.py)."""

import datetime
import json
import socket
import struct
import threading

import pytest

from ansible_collections.hamail.webmail.plugins.module_utils import cluster_health as health

IP_OUTPUT = (
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n'
    '42: eth0    inet 198.51.100.11/24 brd 198.51.100.255 scope global eth0\\       valid_lft forever\n'
    '42: eth0    inet 198.51.100.10/32 scope global eth0\\       valid_lft forever preferred_lft forever\n'
    '43: eth1@if44    inet 10.0.0.5/16 brd 10.0.255.255 scope global eth1\\       valid_lft forever\n'
)


# --- VRRP ---------------------------------------------------------------------------------

@pytest.mark.parametrize('text, state', [
    ('MASTER\n', 'MASTER'),
    ('backup 1733325600\n', 'BACKUP'),
    ('FAULT', 'FAULT'),
    ('', None),
    ('   \n', None),
    ('SOMETHING\n', None),
    (None, None),
])
def test_vrrp_state_file_is_read_as_one_known_word(text, state):
    assert health.parse_vrrp_state(text) == state


def test_ip_output_gives_every_ipv4_address_with_its_interface():
    addresses = health.parse_ipv4_addresses(IP_OUTPUT)
    assert ('eth0', '198.51.100.10', 32) in addresses
    assert ('eth1', '10.0.0.5', 16) in addresses
    assert len(addresses) == 4


def test_virtual_ip_holder_interface_is_found():
    addresses = health.parse_ipv4_addresses(IP_OUTPUT)
    assert health.find_address(addresses, '198.51.100.10') == 'eth0'
    assert health.find_address(addresses, '198.51.100.1') is None


def test_a_master_holding_the_virtual_ip_is_healthy():
    assert health.vrrp_problems('node1', 'MASTER', 'eth0', '198.51.100.10') == []


def test_a_backup_without_the_virtual_ip_is_healthy():
    assert health.vrrp_problems('node2', 'BACKUP', None, '198.51.100.10') == []


def test_a_master_without_the_virtual_ip_is_reported():
    problems = health.vrrp_problems('node1', 'MASTER', None, '198.51.100.10')
    assert problems == ['node1 is VRRP master but does not hold the virtual IP 198.51.100.10']


def test_a_backup_holding_the_virtual_ip_is_reported():
    problems = health.vrrp_problems('node2', 'BACKUP', 'eth0', '198.51.100.10')
    assert problems == ['node2 holds the virtual IP 198.51.100.10 while in VRRP state BACKUP']


def test_fault_state_is_explained():
    problems = health.vrrp_problems('node2', 'FAULT', None, '198.51.100.10')
    assert len(problems) == 1
    assert 'node2 is in VRRP state FAULT' in problems[0]


def test_unknown_state_is_reported_while_keepalived_runs():
    problems = health.vrrp_problems('node2', None, None, '198.51.100.10')
    assert problems == ['the VRRP state of node2 is unknown: keepalived has not reported it yet']


def test_stale_state_is_ignored_when_keepalived_is_stopped():
    assert health.vrrp_problems('node2', 'MASTER', None, '198.51.100.10', keepalived_active=False) == []


# --- DNS ----------------------------------------------------------------------------------

def test_names_are_encoded_as_labels():
    assert health.encode_name('example.test.') == b'\x07example\x04test\x00'
    assert health.encode_name('.') == b'\x00'


def test_an_overlong_label_is_refused():
    with pytest.raises(ValueError):
        health.encode_name('a' * 64 + '.test')


def test_soa_query_asks_one_question_without_recursion():
    query = health.build_soa_query('example.test', 0x1234)
    query_id, flags, qdcount, ancount, nscount, arcount = struct.unpack('!HHHHHH', query[:12])
    assert (query_id, flags, qdcount, ancount, nscount, arcount) == (0x1234, 0, 1, 0, 0, 0)
    assert query[12:] == b'\x07example\x04test\x00' + struct.pack('!HH', 6, 1)


def soa_answer(query_id, serial, rcode=0, compress=True):
    """A DNS answer to build_soa_query('example.test', query_id) as BIND would send it."""
    question = b'\x07example\x04test\x00' + struct.pack('!HH', 6, 1)
    header = struct.pack('!HHHHHH', query_id, 0x8400 | rcode, 1, 0 if rcode else 1, 0, 0)
    if rcode:
        return header + question
    owner = b'\xc0\x0c' if compress else b'\x07example\x04test\x00'
    mname = b'\x05node1\xc0\x0c' if compress else b'\x05node1\x07example\x04test\x00'
    rname = b'\x0ahostmaster\xc0\x0c'
    rdata = mname + rname + struct.pack('!IIIII', serial, 3600, 600, 1209600, 300)
    record = owner + struct.pack('!HHIH', 6, 1, 3600, len(rdata)) + rdata
    return header + question + record


@pytest.mark.parametrize('compress', [True, False])
def test_soa_serial_is_read_from_the_answer(compress):
    assert health.parse_soa_serial(soa_answer(7, 2025120401, compress=compress), 7) == 2025120401


def test_an_answer_to_another_query_is_refused():
    with pytest.raises(health.DnsError, match='does not match'):
        health.parse_soa_serial(soa_answer(8, 1), 7)


@pytest.mark.parametrize('rcode, name', [(2, 'SERVFAIL'), (5, 'REFUSED'), (3, 'NXDOMAIN')])
def test_an_error_answer_names_the_dns_error(rcode, name):
    with pytest.raises(health.DnsError, match=name):
        health.parse_soa_serial(soa_answer(7, 1, rcode=rcode), 7)


def test_an_answer_without_soa_says_the_server_is_not_authoritative():
    header = struct.pack('!HHHHHH', 7, 0x8000, 1, 0, 0, 0)
    question = b'\x07example\x04test\x00' + struct.pack('!HH', 6, 1)
    with pytest.raises(health.DnsError, match='not authoritative'):
        health.parse_soa_serial(header + question, 7)


def test_a_truncated_answer_is_refused():
    with pytest.raises(health.DnsError):
        health.parse_soa_serial(soa_answer(7, 1)[:40], 7)
    with pytest.raises(health.DnsError, match='short'):
        health.parse_soa_serial(b'\x00\x07', 7)


def test_soa_serial_is_asked_of_a_real_udp_server():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(('127.0.0.1', 0))
    server.settimeout(5)
    port = server.getsockname()[1]

    def answer_once():
        query, peer = server.recvfrom(512)
        query_id = struct.unpack('!H', query[:2])[0]
        server.sendto(soa_answer(query_id + 1 & 0xFFFF, 1), peer)  # a stray answer first
        server.sendto(soa_answer(query_id, 2025120402), peer)

    thread = threading.Thread(target=answer_once)
    thread.start()
    try:
        assert health.query_soa_serial('example.test', port=port, timeout=3) == 2025120402
    finally:
        thread.join()
        server.close()


def test_a_silent_dns_server_gives_a_timeout():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(('127.0.0.1', 0))
    try:
        with pytest.raises(health.DnsError, match='no answer'):
            health.query_soa_serial('example.test', port=server.getsockname()[1], timeout=0.3)
    finally:
        server.close()


# --- services and ports -------------------------------------------------------------------

def test_an_active_service_is_no_problem():
    assert health.service_problem('node1', 'postfix', 'active') is None


def test_a_stopped_service_names_the_service_and_the_node():
    assert health.service_problem('node2', 'dovecot', 'inactive') == \
        'dovecot is not running on node2 (systemd state inactive)'


def test_ports_are_labelled_with_their_protocol():
    assert health.port_label(993) == 'port 993 (IMAPS)'
    assert health.port_label(8443) == 'port 8443'


def test_an_open_and_a_closed_port_are_told_apart():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        assert health.tcp_port_open(port, timeout=1)
    finally:
        listener.close()
    assert not health.tcp_port_open(port, timeout=1)


# --- mailbox replication ------------------------------------------------------------------

NOW = 1733325600


def status(**changes):
    base = {'peer': 'node2', 'last_success': NOW - 30, 'last_attempt': NOW - 30,
            'last_error': '', 'pending_users': 0}
    base.update(changes)
    return base


def test_recent_replication_is_healthy():
    report, problems = health.replication_report('node1', status(), NOW, 600, 0)
    assert problems == []
    assert report['seconds_since_success'] == 30
    assert report['behind'] is False


def test_old_replication_names_the_node_the_peer_and_the_error():
    report, problems = health.replication_report(
        'node1', status(last_success=NOW - 3600, last_error='connection refused'), NOW, 600, 0)
    assert problems == ['mailbox replication from node1 to node2 last succeeded 60 min ago '
                        '(limit 10 min): connection refused']
    assert report['behind'] is True


def test_never_synced_mailboxes_are_reported():
    _report, problems = health.replication_report('node1', status(last_success=0), NOW, 600, 0)
    assert problems == ['mailboxes on node1 have never been synced with node2']


def test_a_backlog_of_users_is_reported():
    _report, problems = health.replication_report('node2', status(peer='node1', pending_users=3), NOW, 600, 0)
    assert problems == ['3 mailboxes on node2 wait to be synced with node1 (limit 0)']


def test_replication_status_must_be_a_json_object():
    assert health.parse_replication_status(json.dumps(status()))['peer'] == 'node2'
    with pytest.raises(ValueError):
        health.parse_replication_status('[1, 2]')
    with pytest.raises(ValueError):
        health.parse_replication_status('not json')


@pytest.mark.parametrize('seconds, text', [(45, '45 s'), (600, '10 min'), (9000, '2.5 h'), (400000, '4 days')])
def test_durations_read_naturally(seconds, text):
    assert health.human_duration(seconds) == text


# --- certificate --------------------------------------------------------------------------

def test_openssl_end_date_is_parsed_as_utc():
    expected = datetime.datetime(2027, 12, 4, 15, 20, tzinfo=datetime.timezone.utc).timestamp()
    assert health.parse_openssl_enddate('notAfter=Dec  4 15:20:00 2027 GMT\n') == expected
    expected = datetime.datetime(2030, 3, 18, 9, 5, 1, tzinfo=datetime.timezone.utc).timestamp()
    assert health.parse_openssl_enddate('Mar 18 09:05:01 2030 GMT') == expected


def test_an_unexpected_end_date_is_refused():
    with pytest.raises(ValueError, match='unexpected'):
        health.parse_openssl_enddate('notAfter=tomorrow')


def test_a_long_lived_certificate_needs_nothing():
    report, problems, notices = health.certificate_report('node1', '/c.pem', NOW + 100 * 86400, NOW, 21)
    assert (report['days_left'], problems, notices) == (100, [], [])
    assert report['not_after'] == '2025-03-14T15:20:00Z'


def test_a_certificate_near_its_end_is_a_notice():
    _report, problems, notices = health.certificate_report('node1', '/c.pem', NOW + 10 * 86400 + 5, NOW, 21)
    assert problems == []
    assert notices == ['the certificate /c.pem on node1 expires in 10 days (2024-12-14): rotate it']


def test_an_expired_certificate_is_a_problem():
    _report, problems, _notices = health.certificate_report('node1', '/c.pem', NOW - 86400, NOW, 21)
    assert problems == ['the certificate /c.pem on node1 expired on 2024-12-03']
