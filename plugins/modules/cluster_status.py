#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hamail.webmail developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: cluster_status
short_description: Report the health of one node of the webmail cluster
version_added: 0.1.0
description:
  - Looks at the node it runs on and reports its VRRP state and whether it holds the virtual IP,
    the state of each mail, web and DNS service, the SOA serial of each DNS zone it serves, how
    far behind its mailbox replication is, and when the service certificate expires.
  - Every finding that needs an operator is listed in RV(problems) in plain words, naming the
    node and the service, for example C(dovecot is not running on node2 (systemd state inactive)).
  - The module only reads; it never changes the node, so check mode gives the same report.
  - It does not fail when it finds problems unless O(fail_on_problems=true); judging the whole
    cluster (exactly one virtual IP holder, equal zone serials) is left to the play that runs it
    on every node, such as C(hamail.webmail.verify).
author:
  - hamail.webmail developers
options:
  virtual_ip:
    description: The cluster's virtual IP (C(webmail_virtual_ip)).
    type: str
    required: true
  node_name:
    description:
      - The name used for this node in the report, usually C(inventory_hostname).
      - Defaults to the short host name of the node.
    type: str
  services:
    description: The systemd units that must be active on the node.
    type: list
    elements: str
    default: [postfix, dovecot, named, apache2, keepalived]
  ports:
    description: TCP ports that must accept connections on 127.0.0.1.
    type: list
    elements: int
    default: [25, 587, 143, 993, 443, 53]
  zones:
    description: DNS zones whose SOA serial is read from O(dns_server). None when empty.
    type: list
    elements: str
    default: []
  dns_server:
    description: The DNS server asked for the zone serials, over UDP port 53.
    type: str
    default: 127.0.0.1
  vrrp_state_path:
    description:
      - File in which keepalived's notify script keeps the node's VRRP state
        (C(MASTER), C(BACKUP), C(FAULT) or C(STOP)).
    type: path
    default: /var/lib/hamail/vrrp_state
  replication_status_path:
    description:
      - JSON status file of the mailbox replication, written by the dovecot role's sync service, with the
        keys C(peer), C(last_success), C(last_attempt) (epoch seconds), C(last_error) and C(pending_users).
      - Set it to an empty string on a node without replication to skip the check.
    type: path
    default: /var/lib/hamail/replication/status.json
  replication_max_age:
    description: Seconds since the last successful replication after which the node counts as behind.
    type: int
    default: 600
  replication_max_pending:
    description: Number of users waiting to be replicated above which the node counts as behind.
    type: int
    default: 0
  certificate_path:
    description: The service certificate (PEM), read with the C(openssl) command. Empty to skip the check.
    type: path
    default: /etc/ssl/certs/hamail-webmail.pem
  certificate_warn_days:
    description: Days before its end at which the certificate is reported in RV(notices).
    type: int
    default: 21
  timeout:
    description: Seconds to wait for each DNS answer and TCP connection.
    type: float
    default: 3.0
  fail_on_problems:
    description: Fail the task when RV(problems) is not empty.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: The module only reads, so check mode runs every check and reports the same.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
notes:
  - Needs the C(ip) command (iproute2), C(systemctl) and, for the certificate, the C(openssl) command.
  - The DNS query is made by the module itself; no DNS library is needed on the node.
seealso:
  - name: Operations guide
    description: What to do when this module reports a problem.
    link: https://github.com/hamail/webmail/blob/main/docs/operations.md
'''

EXAMPLES = r'''
- name: Report the health of each node
  hamail.webmail.cluster_status:
    virtual_ip: "{{ webmail_virtual_ip }}"
    node_name: "{{ inventory_hostname }}"
    zones:
      - example.test
      - 100.51.198.in-addr.arpa
  register: node_status

- name: Fail when this node has a problem
  hamail.webmail.cluster_status:
    virtual_ip: 198.51.100.10
    fail_on_problems: true

- name: Check a node without mailbox replication or keepalived yet
  hamail.webmail.cluster_status:
    virtual_ip: 198.51.100.10
    services: [postfix, dovecot]
    ports: [25, 587, 993]
    replication_status_path: ""
'''

RETURN = r'''
node:
  description: The name of the node in the report.
  returned: always
  type: str
  sample: node2
healthy:
  description: True when RV(problems) is empty.
  returned: always
  type: bool
  sample: false
problems:
  description: What is wrong on the node, one sentence each, naming the node and the service.
  returned: always
  type: list
  elements: str
  sample:
    - "dovecot is not running on node2 (systemd state inactive)"
    - "nothing accepts connections on port 993 (IMAPS) of node2"
notices:
  description: What needs attention soon but does not make the node unhealthy (a certificate near its end).
  returned: always
  type: list
  elements: str
  sample: []
vrrp:
  description: The node's VRRP state and whether it holds the virtual IP.
  returned: always
  type: dict
  contains:
    state:
      description: C(MASTER), C(BACKUP), C(FAULT), C(STOP), or null when keepalived has not written it.
      type: str
      sample: MASTER
    holds_virtual_ip:
      description: Whether the virtual IP is on one of the node's interfaces.
      type: bool
      sample: true
    interface:
      description: The interface holding the virtual IP, or null.
      type: str
      sample: eth0
    virtual_ip:
      description: The virtual IP looked for.
      type: str
      sample: 198.51.100.10
services:
  description: For each unit in O(services), its C(systemctl is-active) state and whether it is active.
  returned: always
  type: dict
  sample: {"dovecot": {"state": "inactive", "active": false}, "postfix": {"state": "active", "active": true}}
ports:
  description: For each port in O(ports) (as a string key), whether it accepts TCP connections on 127.0.0.1.
  returned: always
  type: dict
  sample: {"25": true, "993": false}
zones:
  description: For each zone in O(zones), its SOA serial or the error met while asking for it.
  returned: always
  type: dict
  sample: {"example.test": {"serial": 2025120401, "error": null}}
replication:
  description: The mailbox replication status, or null when O(replication_status_path) is empty.
  returned: always
  type: dict
  contains:
    peer:
      description: The node replicated with.
      type: str
    last_success:
      description: Epoch seconds of the last successful sync.
      type: int
    last_attempt:
      description: Epoch seconds of the last attempt.
      type: int
    last_error:
      description: The error of the last failed attempt, empty when none.
      type: str
    pending_users:
      description: Users waiting to be synced.
      type: int
    seconds_since_success:
      description: Seconds since the last successful sync, null when never.
      type: int
    behind:
      description: Whether replication is behind the thresholds.
      type: bool
certificate:
  description: The certificate's end, or null when O(certificate_path) is empty.
  returned: always
  type: dict
  contains:
    path:
      description: The certificate file.
      type: str
    not_after:
      description: End of validity, UTC, ISO 8601.
      type: str
      sample: "2028-03-08T15:20:00Z"
    days_left:
      description: Whole days until the end, negative once expired.
      type: int
'''

import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hamail.webmail.plugins.module_utils.cluster_health import (
    DnsError,
    certificate_report,
    find_address,
    parse_ipv4_addresses,
    parse_openssl_enddate,
    parse_replication_status,
    parse_vrrp_state,
    port_label,
    query_soa_serial,
    replication_report,
    service_problem,
    tcp_port_open,
    vrrp_problems,
)


# The module's options; DOCUMENTATION above describes each (a unit test keeps the two in step).
ARGUMENT_SPEC = dict(
    virtual_ip=dict(type='str', required=True),
    node_name=dict(type='str'),
    services=dict(type='list', elements='str',
                  default=['postfix', 'dovecot', 'named', 'apache2', 'keepalived']),
    ports=dict(type='list', elements='int', default=[25, 587, 143, 993, 443, 53]),
    zones=dict(type='list', elements='str', default=[]),
    dns_server=dict(type='str', default='127.0.0.1'),
    vrrp_state_path=dict(type='path', default='/var/lib/hamail/vrrp_state'),
    replication_status_path=dict(type='path', default='/var/lib/hamail/replication/status.json'),
    replication_max_age=dict(type='int', default=600),
    replication_max_pending=dict(type='int', default=0),
    certificate_path=dict(type='path', default='/etc/ssl/certs/hamail-webmail.pem'),
    certificate_warn_days=dict(type='int', default=21),
    timeout=dict(type='float', default=3.0),
    fail_on_problems=dict(type='bool', default=False),
)


def read_text(path):
    with open(path, 'r') as handle:
        return handle.read()


def check_services(module, node):
    systemctl = module.get_bin_path('systemctl')
    services = {}
    problems = []
    for unit in module.params['services']:
        if systemctl is None:
            state = 'systemctl missing'
        else:
            _rc, out, _err = module.run_command([systemctl, 'is-active', unit])
            state = out.strip().splitlines()[0] if out.strip() else 'unknown'
        services[unit] = {'state': state, 'active': state == 'active'}
        problem = service_problem(node, unit, state)
        if problem:
            problems.append(problem)
    return services, problems


def check_ports(module, node):
    ports = {}
    problems = []
    for port in module.params['ports']:
        is_open = tcp_port_open(port, timeout=module.params['timeout'])
        ports[str(port)] = is_open
        if not is_open:
            problems.append('nothing accepts connections on %s of %s' % (port_label(port), node))
    return ports, problems


def check_vrrp(module, node, keepalived_active):
    virtual_ip = module.params['virtual_ip']
    state = None
    path = module.params['vrrp_state_path']
    if path and os.path.exists(path):
        try:
            state = parse_vrrp_state(read_text(path))
        except (IOError, OSError) as error:
            module.warn('cannot read %s: %s' % (path, to_native(error)))
    ip_command = module.get_bin_path('ip', required=True)
    rc, out, err = module.run_command([ip_command, '-o', '-4', 'addr', 'show'])
    if rc != 0:
        module.fail_json(msg='ip -o -4 addr show failed: %s' % err.strip())
    interface = find_address(parse_ipv4_addresses(out), virtual_ip)
    report = {
        'state': state,
        'holds_virtual_ip': interface is not None,
        'interface': interface,
        'virtual_ip': virtual_ip,
    }
    return report, vrrp_problems(node, state, interface, virtual_ip, keepalived_active)


def check_zones(module, node):
    zones = {}
    problems = []
    for zone in module.params['zones']:
        try:
            serial = query_soa_serial(zone, server=module.params['dns_server'], timeout=module.params['timeout'])
            zones[zone] = {'serial': serial, 'error': None}
        except (DnsError, ValueError, socket.error) as error:
            zones[zone] = {'serial': None, 'error': to_native(error)}
            problems.append('the DNS server on %s gives no serial for zone %s: %s' % (node, zone, to_native(error)))
    return zones, problems


def check_replication(module, node, now):
    path = module.params['replication_status_path']
    if not path:
        return None, []
    if not os.path.exists(path):
        return None, ['mailbox replication has not reported on %s yet (%s is missing)' % (node, path)]
    try:
        status = parse_replication_status(read_text(path))
    except (IOError, OSError, ValueError) as error:
        return None, ['cannot read the mailbox replication status %s on %s: %s' % (path, node, to_native(error))]
    return replication_report(node, status, now, module.params['replication_max_age'],
                              module.params['replication_max_pending'])


def check_certificate(module, node, now):
    path = module.params['certificate_path']
    if not path:
        return None, [], []
    if not os.path.exists(path):
        return None, ['the certificate %s is missing on %s' % (path, node)], []
    openssl = module.get_bin_path('openssl')
    if openssl is None:
        return None, ['cannot check the certificate on %s: the openssl command is missing' % node], []
    rc, out, err = module.run_command([openssl, 'x509', '-enddate', '-noout', '-in', path])
    if rc != 0:
        return None, ['the certificate %s on %s cannot be read: %s' % (path, node, err.strip())], []
    try:
        not_after = parse_openssl_enddate(out)
    except ValueError as error:
        return None, ['the certificate %s on %s: %s' % (path, node, to_native(error))], []
    return certificate_report(node, path, not_after, now, module.params['certificate_warn_days'])


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )

    node = module.params['node_name'] or socket.gethostname().split('.')[0]
    now = time.time()
    problems = []
    notices = []

    services, found = check_services(module, node)
    problems.extend(found)
    keepalived = services.get('keepalived', {'active': True})
    vrrp, found = check_vrrp(module, node, keepalived['active'])
    problems.extend(found)
    ports, found = check_ports(module, node)
    problems.extend(found)
    zones, found = check_zones(module, node)
    problems.extend(found)
    replication, found = check_replication(module, node, now)
    problems.extend(found)
    certificate, found, soon = check_certificate(module, node, now)
    problems.extend(found)
    notices.extend(soon)

    result = dict(
        changed=False,
        node=node,
        healthy=not problems,
        problems=problems,
        notices=notices,
        vrrp=vrrp,
        services=services,
        ports=ports,
        zones=zones,
        replication=replication,
        certificate=certificate,
    )
    for notice in notices:
        module.warn(notice)
    if problems and module.params['fail_on_problems']:
        module.fail_json(msg='; '.join(problems), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
