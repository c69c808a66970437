"""Unit tests of the cluster_status module: a node's report from what its commands and files say."""

import json
import time

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hamail.webmail.plugins.module_utils.cluster_health import DnsError
from ansible_collections.hamail.webmail.plugins.modules import cluster_status

VIP = '198.51.100.10'
IP_WITH_VIP = (
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n'
    '2: eth0    inet 198.51.100.11/24 brd 198.51.100.255 scope global eth0\\       valid_lft forever\n'
    '2: eth0    inet 198.51.100.10/32 scope global eth0\\       valid_lft forever\n'
)
IP_WITHOUT_VIP = '2: eth0    inet 198.51.100.12/24 brd 198.51.100.255 scope global eth0\\       valid_lft forever\n'


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


class FakeNode:
    """What the node's commands answer; tests change the parts they are about."""

    def __init__(self, tmp_path):
        self.units = {unit: 'active' for unit in ('postfix', 'dovecot', 'named', 'apache2', 'keepalived')}
        self.ip_output = IP_WITH_VIP
        self.enddate = time.strftime('notAfter=%b %d %H:%M:%S %Y GMT\n', time.gmtime(time.time() + 400 * 86400))
        self.commands = []
        self.vrrp_path = tmp_path / 'vrrp_state'
        self.vrrp_path.write_text('MASTER\n')
        self.replication_path = tmp_path / 'status.json'
        self.write_replication(last_success=int(time.time()) - 20)
        self.certificate_path = tmp_path / 'hamail-webmail.pem'
        self.certificate_path.write_text('-----BEGIN CERTIFICATE-----\n')
        self.serials = {'example.test': 2025120401}

    def write_replication(self, **changes):
        data = {'peer': 'node2', 'last_success': int(time.time()), 'last_attempt': int(time.time()),
                'last_error': '', 'pending_users': 0}
        data.update(changes)
        self.replication_path.write_text(json.dumps(data))

    def run_command(self, args, **_kwargs):
        self.commands.append(args)
        name = args[0].rsplit('/', 1)[-1]
        if name == 'systemctl':
            state = self.units.get(args[2], 'inactive')
            return (0 if state == 'active' else 3), state + '\n', ''
        if name == 'ip':
            return 0, self.ip_output, ''
        if name == 'openssl':
            return 0, self.enddate, ''
        raise AssertionError('unexpected command %r' % (args,))

    def query_soa_serial(self, zone, server='127.0.0.1', port=53, timeout=3.0):
        assert server == '127.0.0.1'
        if zone not in self.serials:
            raise DnsError('server answered REFUSED')
        return self.serials[zone]


@pytest.fixture
def node(tmp_path, monkeypatch):
    fake = FakeNode(tmp_path)

    def exit_json(_module, **result):
        raise ModuleExit(result, failed=False)

    def fail_json(_module, **result):
        raise ModuleExit(result, failed=True)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda _module, args, **kw: fake.run_command(args, **kw))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda _module, name, **_kw: '/usr/bin/' + name)
    monkeypatch.setattr(cluster_status, 'query_soa_serial', fake.query_soa_serial)
    monkeypatch.setattr(cluster_status, 'tcp_port_open', lambda port, **_kw: port not in fake.closed_ports)
    fake.closed_ports = set()
    return fake


def run(node, **params):
    args = {
        'virtual_ip': VIP,
        'node_name': 'node1',
        'zones': ['example.test'],
        'vrrp_state_path': str(node.vrrp_path),
        'replication_status_path': str(node.replication_path),
        'certificate_path': str(node.certificate_path),
    }
    args.update(params)
    with patch_module_args(args):
        with pytest.raises(ModuleExit) as caught:
            cluster_status.main()
    return caught.value


def test_a_converged_master_is_healthy(node):
    outcome = run(node)
    result = outcome.result
    assert not outcome.failed
    assert result['healthy'] is True, result['problems']
    assert result['problems'] == []
    assert result['changed'] is False
    assert result['vrrp'] == {'state': 'MASTER', 'holds_virtual_ip': True, 'interface': 'eth0', 'virtual_ip': VIP}
    assert result['services']['dovecot'] == {'state': 'active', 'active': True}
    assert result['ports'] == {'25': True, '587': True, '143': True, '993': True, '443': True, '53': True}
    assert result['zones'] == {'example.test': {'serial': 2025120401, 'error': None}}
    assert result['replication']['behind'] is False
    assert result['certificate']['days_left'] in (399, 400)


def test_check_mode_reports_the_same_and_changes_nothing(node):
    normal = run(node).result
    checked = run(node, _ansible_check_mode=True).result
    assert checked['changed'] is False
    assert checked['healthy'] == normal['healthy']
    assert checked['services'] == normal['services']


def test_a_stopped_dovecot_names_the_node_and_dovecot(node):
    node.units['dovecot'] = 'inactive'
    node.closed_ports = {143, 993}
    node.vrrp_path.write_text('FAULT\n')
    node.ip_output = IP_WITHOUT_VIP
    result = run(node, node_name='node2').result
    assert result['healthy'] is False
    assert 'dovecot is not running on node2 (systemd state inactive)' in result['problems']
    assert 'nothing accepts connections on port 993 (IMAPS) of node2' in result['problems']
    assert any(problem.startswith('node2 is in VRRP state FAULT') for problem in result['problems'])


def test_the_backup_without_the_virtual_ip_is_healthy(node):
    node.vrrp_path.write_text('BACKUP\n')
    node.ip_output = IP_WITHOUT_VIP
    result = run(node, node_name='node2').result
    assert result['healthy'] is True, result['problems']
    assert result['vrrp']['holds_virtual_ip'] is False


def test_a_missing_vrrp_state_file_is_reported(node):
    node.vrrp_path.unlink()
    result = run(node).result
    assert result['vrrp']['state'] is None
    assert 'the VRRP state of node1 is unknown: keepalived has not reported it yet' in result['problems']


def test_a_zone_the_server_refuses_is_reported(node):
    result = run(node, zones=['example.test', 'other.test']).result
    assert result['zones']['other.test'] == {'serial': None, 'error': 'server answered REFUSED'}
    assert result['problems'] == [
        'the DNS server on node1 gives no serial for zone other.test: server answered REFUSED']


def test_stale_replication_is_reported_with_its_error(node):
    node.write_replication(last_success=int(time.time()) - 7200, last_error='peer unreachable')
    result = run(node).result
    assert result['replication']['behind'] is True
    assert result['problems'] == ['mailbox replication from node1 to node2 last succeeded 2.0 h ago '
                                  '(limit 10 min): peer unreachable']


def test_a_missing_replication_status_is_reported(node):
    node.replication_path.unlink()
    result = run(node).result
    assert result['problems'] == ['mailbox replication has not reported on node1 yet (%s is missing)'
                                  % node.replication_path]


def test_replication_and_certificate_checks_can_be_skipped(node):
    result = run(node, replication_status_path='', certificate_path='').result
    assert result['replication'] is None
    assert result['certificate'] is None
    assert not any(command[0].endswith('openssl') for command in node.commands)


def test_a_certificate_near_its_end_is_a_notice_not_a_problem(node):
    node.enddate = time.strftime('notAfter=%b %d %H:%M:%S %Y GMT\n', time.gmtime(time.time() + 5 * 86400 + 60))
    result = run(node).result
    assert result['healthy'] is True
    assert len(result['notices']) == 1
    assert 'expires in 5 days' in result['notices'][0]


def test_fail_on_problems_fails_with_every_problem(node):
    node.units['postfix'] = 'failed'
    outcome = run(node, fail_on_problems=True)
    assert outcome.failed
    assert outcome.result['msg'] == 'postfix is not running on node1 (systemd state failed)'


def test_the_virtual_ip_is_required(node):
    with patch_module_args({}):
        with pytest.raises(ModuleExit) as caught:
            cluster_status.main()
    assert caught.value.failed
    assert 'virtual_ip' in caught.value.result['msg']
