"""Unit tests of the cluster verdict (plugins/filter/cluster_report.py)."""

import copy

from ansible_collections.hamail.webmail.plugins.filter.cluster_report import FilterModule, cluster_report

NODES = ['node1', 'node2']
ROUNDTRIP_OK = {'ok': True, 'error': '', 'seconds': 1.4, 'message_id': '<roundtrip-1@example.test>'}


def node_status(name, state, holds):
    return {
        'changed': False,
        'node': name,
        'healthy': True,
        'problems': [],
        'notices': [],
        'vrrp': {'state': state, 'holds_virtual_ip': holds, 'interface': 'eth0' if holds else None,
                 'virtual_ip': '198.51.100.10'},
        'services': {unit: {'state': 'active', 'active': True}
                     for unit in ('postfix', 'dovecot', 'named', 'apache2', 'keepalived')},
        'ports': {'25': True, '587': True, '993': True},
        'zones': {'example.test': {'serial': 2025120401, 'error': None}},
        'replication': {'peer': 'node2' if name == 'node1' else 'node1', 'seconds_since_success': 12,
                        'pending_users': 0, 'behind': False},
        'certificate': {'path': '/etc/ssl/certs/hamail-webmail.pem', 'not_after': '2028-03-08T15:20:00Z',
                        'days_left': 824},
    }


def converged():
    return {'node1': node_status('node1', 'MASTER', True), 'node2': node_status('node2', 'BACKUP', False)}


def test_the_filter_is_registered():
    assert FilterModule().filters()['cluster_report'] is cluster_report


def test_a_converged_cluster_is_healthy():
    report = cluster_report(converged(), NODES, ROUNDTRIP_OK)
    assert report['healthy'] is True
    assert report['redundant'] is True
    assert report['verdict'] == 'HEALTHY'
    assert report['problems'] == []
    assert report['table'][-1].startswith('cluster HEALTHY')
    assert any('delivered and read in 1.4 s' in line for line in report['table'])


def test_the_table_has_one_column_per_node_in_order():
    table = cluster_report(converged(), NODES, ROUNDTRIP_OK)['table']
    assert table[0].split() == ['check', 'node1', 'node2']
    assert set(table[1]) == {'-', ' '}
    vrrp_row = next(line for line in table if line.startswith('VRRP state'))
    assert vrrp_row.split()[-2:] == ['MASTER', 'BACKUP']


def test_a_stopped_dovecot_on_node2_names_node2_and_dovecot():
    statuses = converged()
    statuses['node2']['services']['dovecot'] = {'state': 'inactive', 'active': False}
    statuses['node2']['problems'] = ['dovecot is not running on node2 (systemd state inactive)']
    statuses['node2']['healthy'] = False
    report = cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert report['verdict'] == 'UNHEALTHY'
    assert report['problems'] == ['dovecot is not running on node2 (systemd state inactive)']
    row = next(line for line in report['table'] if line.startswith('service dovecot'))
    assert row.split()[-2:] == ['running', 'INACTIVE']
    assert '  - dovecot is not running on node2 (systemd state inactive)' in report['table']


def test_an_unreachable_node2_means_no_redundancy():
    statuses = {'node1': converged()['node1'],
                'node2': {'unreachable': True, 'msg': 'Failed to connect', 'changed': False}}
    report = cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert report['healthy'] is False
    assert report['redundant'] is False
    assert report['verdict'] == 'DEGRADED'
    assert report['problems'] == ['cluster runs without redundancy: node2 unreachable']
    assert report['table'][2].split()[:3] == ['reachable', 'yes', 'NO']


def test_a_node_without_a_result_is_down():
    report = cluster_report({'node1': converged()['node1']}, NODES, ROUNDTRIP_OK)
    assert report['problems'] == ['cluster runs without redundancy: node2 no status']


def test_no_node_at_all_is_unhealthy():
    report = cluster_report({}, NODES, {'ok': False, 'error': 'SMTP submission: timed out'})
    assert report['verdict'] == 'UNHEALTHY'
    assert report['problems'][0] == 'no node of the cluster answered: node1 no status, node2 no status'


def test_two_holders_of_the_virtual_ip_are_a_split_brain():
    statuses = converged()
    statuses['node2']['vrrp'].update(state='MASTER', holds_virtual_ip=True)
    report = cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert any('node1 and node2 all hold the virtual IP 198.51.100.10 (split brain)' in problem
               for problem in report['problems'])


def test_no_holder_of_the_virtual_ip_is_reported():
    statuses = converged()
    statuses['node1']['vrrp'].update(holds_virtual_ip=False)
    report = cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert 'no node holds the virtual IP 198.51.100.10: clients cannot reach the service' in report['problems']


def test_different_zone_serials_are_reported():
    statuses = converged()
    statuses['node2']['zones']['example.test']['serial'] = 2025120400
    report = cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert report['problems'] == [
        'zone example.test differs between the nodes (serial 2025120401 on node1, serial 2025120400 on node2): '
        'the secondary has not copied the latest zone']


def test_a_failed_round_trip_makes_the_cluster_unhealthy():
    report = cluster_report(converged(), NODES, {'ok': False, 'error': 'IMAP LOGIN as user1: failed'})
    assert report['verdict'] == 'UNHEALTHY'
    assert report['problems'] == ['the mail round trip through the virtual IP failed: IMAP LOGIN as user1: failed']


def test_notices_do_not_make_the_cluster_unhealthy():
    statuses = converged()
    statuses['node1']['notices'] = ['the certificate /c.pem on node1 expires in 9 days (2025-01-01): rotate it']
    report = cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert report['healthy'] is True
    assert 'needs attention soon:' in report['table']


def test_the_input_is_not_changed():
    statuses = converged()
    before = copy.deepcopy(statuses)
    cluster_report(statuses, NODES, ROUNDTRIP_OK)
    assert statuses == before
