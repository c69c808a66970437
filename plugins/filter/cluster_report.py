# -*- coding: utf-8 -*-
# Copyright: hamail.webmail developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: cluster_report
short_description: Judge the whole cluster from the cluster_status of each node
version_added: 0.1.0
description:
  - Takes what M(hamail.webmail.cluster_status) reported on every node (or that a node was
    unreachable) and the result of a mail round trip through the virtual IP, adds the checks that
    need both nodes (exactly one holder of the virtual IP, the same zone serials on both), and
    returns one verdict with the reasons and a plain-text table for the operator.
author:
  - hamail.webmail developers
positional: nodes, roundtrip
options:
  _input:
    description:
      - The registered result of M(hamail.webmail.cluster_status) per node name. A node whose
        result is missing, unreachable or failed counts as down.
    type: dict
    required: true
  nodes:
    description: The names of all nodes of the cluster, in the order of the table's columns.
    type: list
    elements: str
    required: true
  roundtrip:
    description:
      - The result of the mail round trip, a dict with C(ok) (bool), C(error) (str), C(seconds)
        (float) and C(message_id) (str); omit it to judge the nodes only.
    type: dict
'''

EXAMPLES = r'''
- name: Print the verdict on the cluster
  ansible.builtin.debug:
    msg: "{{ (statuses | hamail.webmail.cluster_report(groups['webmail_nodes'], roundtrip)).table }}"
  vars:
    statuses: "{{ dict(groups['webmail_nodes'] | zip(groups['webmail_nodes']
                  | map('extract', hostvars, 'node_status'))) }}"
    roundtrip: {ok: true, error: "", seconds: 1.2, message_id: "<x@example.test>"}
'''

RETURN = r'''
_value:
  description: The verdict on the cluster.
  type: dict
  contains:
    healthy:
      description: True when every node is up and has no problem and the round trip worked.
      type: bool
    redundant:
      description: True when every node is reachable and could take over the virtual IP.
      type: bool
    verdict:
      description: C(HEALTHY), C(DEGRADED) (serving, but without redundancy) or C(UNHEALTHY).
      type: str
    problems:
      description: Every reason the cluster is not healthy, in operator language.
      type: list
      elements: str
    notices:
      description: What needs attention soon without making the cluster unhealthy.
      type: list
      elements: str
    table:
      description: The report as lines of text, one table and the reasons below it.
      type: list
      elements: str
'''


def _down_reason(result):
    """Why a node gave no status, or None when it did."""
    if not isinstance(result, dict) or not result:
        return 'no status'
    if result.get('unreachable'):
        return 'unreachable'
    if result.get('skipped'):
        return 'skipped'
    if 'healthy' not in result:
        return 'status failed: %s' % (result.get('msg') or 'no report')
    return None


def _yes(value, yes='yes', no='NO'):
    return yes if value else no


def _rows(statuses, up):
    """Table rows (label, {node: cell}) for everything the nodes reported."""
    rows = [('VRRP state', {node: statuses[node]['vrrp'].get('state') or '?' for node in up}),
            ('holds virtual IP', {node: _yes(statuses[node]['vrrp'].get('holds_virtual_ip'), 'yes', 'no')
                                  for node in up})]
    services = []
    ports = []
    zones = []
    for node in up:
        for name in statuses[node].get('services') or {}:
            if name not in services:
                services.append(name)
        for name in statuses[node].get('ports') or {}:
            if name not in ports:
                ports.append(name)
        for name in statuses[node].get('zones') or {}:
            if name not in zones:
                zones.append(name)
    for name in services:
        rows.append(('service ' + name, {
            node: _yes((statuses[node]['services'].get(name) or {}).get('active'), 'running',
                       (statuses[node]['services'].get(name) or {}).get('state', 'missing').upper())
            for node in up}))
    if ports:
        rows.append(('ports ' + ','.join(ports), {
            node: 'open' if all((statuses[node].get('ports') or {}).get(port) for port in ports) else
            'CLOSED ' + ','.join(port for port in ports if not (statuses[node].get('ports') or {}).get(port))
            for node in up}))
    for name in zones:
        cells = {}
        for node in up:
            zone = (statuses[node].get('zones') or {}).get(name) or {}
            cells[node] = str(zone['serial']) if zone.get('serial') is not None else 'NO ANSWER'
        rows.append(('zone ' + name, cells))
    cells = {}
    for node in up:
        replication = statuses[node].get('replication')
        if not replication:
            cells[node] = 'n/a'
            continue
        age = replication.get('seconds_since_success')
        text = 'never' if age is None else '%ss ago' % age
        text += ', %s pending' % replication.get('pending_users', '?')
        cells[node] = ('BEHIND ' if replication.get('behind') else '') + text
    rows.append(('mail replication', cells))
    cells = {}
    for node in up:
        certificate = statuses[node].get('certificate')
        cells[node] = '%s days left' % certificate['days_left'] if certificate else 'n/a'
    rows.append(('certificate', cells))
    return rows


def _table(header, rows):
    widths = [max(len(str(line[column])) for line in [header] + rows) for column in range(len(header))]
    lines = []
    for number, line in enumerate([header] + rows):
        lines.append('  '.join(str(value).ljust(width) for value, width in zip(line, widths)).rstrip())
        if number == 0:
            lines.append('  '.join('-' * width for width in widths))
    return lines


def cluster_report(statuses, nodes, roundtrip=None):
    statuses = statuses or {}
    problems = []
    notices = []
    down = {}
    up = []
    for node in nodes:
        reason = _down_reason(statuses.get(node))
        if reason:
            down[node] = reason
        else:
            up.append(node)

    if not up:
        problems.append('no node of the cluster answered: %s'
                        % ', '.join('%s %s' % (node, down[node]) for node in nodes))
    elif down:
        problems.append('cluster runs without redundancy: %s'
                        % ', '.join('%s %s' % (node, down[node]) for node in nodes if node in down))

    for node in up:
        problems.extend(statuses[node].get('problems') or [])
        notices.extend(statuses[node].get('notices') or [])

    if up:
        virtual_ip = statuses[up[0]]['vrrp'].get('virtual_ip')
        holders = [node for node in up if statuses[node]['vrrp'].get('holds_virtual_ip')]
        if not holders:
            problems.append('no node holds the virtual IP %s: clients cannot reach the service' % virtual_ip)
        elif len(holders) > 1:
            problems.append('%s all hold the virtual IP %s (split brain): check that VRRP adverts '
                            'pass between the nodes' % (' and '.join(holders), virtual_ip))
        zones = []
        for node in up:
            for zone in statuses[node].get('zones') or {}:
                if zone not in zones:
                    zones.append(zone)
        for zone in zones:
            serials = {}
            for node in up:
                serial = ((statuses[node].get('zones') or {}).get(zone) or {}).get('serial')
                if serial is not None:
                    serials[node] = serial
            if len(set(serials.values())) > 1:
                problems.append('zone %s differs between the nodes (%s): the secondary has not '
                                'copied the latest zone' % (zone, ', '.join(
                                    'serial %s on %s' % (serials[node], node) for node in sorted(serials))))

    if roundtrip is not None:
        if roundtrip.get('ok'):
            roundtrip_text = 'delivered and read in %.1f s (%s)' % (
                float(roundtrip.get('seconds') or 0), roundtrip.get('message_id', ''))
        else:
            roundtrip_text = 'FAILED: %s' % (roundtrip.get('error') or 'no result')
            problems.append('the mail round trip through the virtual IP failed: %s'
                            % (roundtrip.get('error') or 'no result'))

    redundant = not down and all(
        (statuses[node]['vrrp'].get('state') in ('MASTER', 'BACKUP')) for node in up)
    healthy = not problems
    if healthy:
        verdict = 'HEALTHY'
    elif up and down and len(problems) == 1 and (roundtrip is None or roundtrip.get('ok')):
        verdict = 'DEGRADED'
    else:
        verdict = 'UNHEALTHY'

    header = ['check'] + list(nodes)
    rows = [['reachable'] + [_yes(node in up, 'yes', 'NO (%s)' % down.get(node)) for node in nodes]]
    for label, cells in _rows(statuses, up) if up else []:
        rows.append([label] + [cells.get(node, '-') for node in nodes])
    table = _table(header, rows)
    if roundtrip is not None:
        table += ['', 'mail round trip through the virtual IP: ' + roundtrip_text]
    table.append('')
    if healthy:
        table.append('cluster HEALTHY: every node serves and can take over, mail flows through the virtual IP')
    else:
        table.append('cluster %s, because:' % verdict)
        table.extend('  - ' + problem for problem in problems)
    if notices:
        table.append('needs attention soon:')
        table.extend('  - ' + notice for notice in notices)

    return {
        'healthy': healthy,
        'redundant': redundant,
        'verdict': verdict,
        'problems': problems,
        'notices': notices,
        'table': table,
    }


class FilterModule(object):
    def filters(self):
        return {'cluster_report': cluster_report}
