#!/usr/bin/env python3
"""Render docs/variables.md from every roles/*/meta/argument_specs.yml.

The argument specs are the contract; this page is only their rendering, so a variable is
described in one place. Each variable is listed once: cluster-wide `webmail_*` variables in
their own section, every other variable under the role whose name it carries (`dovecot_*`
under dovecot). A role that reads another role's variable (webserver reads `tls_*`) links to
it instead of repeating it.

    python3 tests/gen_variables_doc.py          # write docs/variables.md
    python3 tests/gen_variables_doc.py --check  # exit 1 when docs/variables.md is out of date
"""

import argparse
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, 'docs', 'variables.md')
CLUSTER_PREFIX = 'webmail_'

# Ansible's documentation markup, turned into Markdown.
MARKUP = [
    (re.compile(r'L\(([^,()]+),\s*([^)]+)\)'), r'[\1](\2)'),
    (re.compile(r'U\(([^)]+)\)'), r'<\1>'),
    (re.compile(r'B\(([^)]+)\)'), r'**\1**'),
    (re.compile(r'I\(([^)]+)\)'), r'*\1*'),
    (re.compile(r'(?:C|O|V|RV|E|P)\(((?:[^()]|\([^()]*\))+)\)'), r'`\1`'),
]


def markdown(text):
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text


def description(option):
    value = option.get('description', '')
    if isinstance(value, list):
        value = ' '.join(str(line) for line in value)
    return markdown(' '.join(str(value).split()))


def default_text(option):
    if option.get('required'):
        return 'required'
    if 'default' not in option or option['default'] is None:
        return '(none)'
    value = option['default']
    if isinstance(value, str):
        return '`"%s"`' % value if value == '' else '`%s`' % value
    rendered = yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    if rendered.endswith('\n...'):
        rendered = rendered[:-4]
    return '`%s`' % rendered.replace('\n...', '').strip()


def type_text(option):
    kind = option.get('type', 'str')
    if kind == 'list' and option.get('elements'):
        return 'list of %s' % option['elements']
    if option.get('choices'):
        return '%s, one of %s' % (kind, ', '.join('`%s`' % choice for choice in option['choices']))
    return kind


def cell(text):
    return text.replace('|', '\\|')


def load_specs(root):
    """Return {role: {entry point: spec}} for every role with argument specs, sorted by role."""
    roles_dir = os.path.join(root, 'roles')
    specs = {}
    for role in sorted(os.listdir(roles_dir)):
        path = os.path.join(roles_dir, role, 'meta', 'argument_specs.yml')
        if not os.path.isfile(path):
            continue
        with open(path) as handle:
            data = yaml.safe_load(handle) or {}
        specs[role] = data.get('argument_specs') or {}
    return specs


def owner_of(variable, roles):
    if variable.startswith(CLUSTER_PREFIX):
        return None
    for role in sorted(roles, key=len, reverse=True):
        if variable.startswith(role + '_'):
            return role
    return None


def shared_description(variable, specs):
    """One description of a cluster-wide variable that every role reading it agrees with.

    Roles describe a shared variable and then say what they do with it ("The mail domain; the
    certificate covers mail. under it"). The part all of them share is what the variable is; when
    they share nothing, the shortest description wins.
    """
    texts = []
    for entry_points in specs.values():
        for spec in entry_points.values():
            option = (spec.get('options') or {}).get(variable)
            if option is not None:
                text = option.get('description', '')
                texts.append(' '.join(text) if isinstance(text, list) else str(text))
    heads = {re.split(r'[;.]', ' '.join(text.split()), maxsplit=1)[0].strip() for text in texts}
    if len(heads) == 1 and len(texts) > 1:
        return heads.pop() + '.'
    return min(texts, key=len) if texts else ''


def render(root=ROOT):
    specs = load_specs(root)
    roles = list(specs)

    # Where each variable is described: the first spec of its owner, else of the first reader.
    described = {}
    readers = {}
    for role, entry_points in specs.items():
        for entry, spec in entry_points.items():
            for variable, option in (spec.get('options') or {}).items():
                readers.setdefault(variable, [])
                if role not in readers[variable]:
                    readers[variable].append(role)
                owner = owner_of(variable, roles)
                place = 'cluster' if variable.startswith(CLUSTER_PREFIX) else owner
                current = described.get(variable)
                if current is None or (current[0] != place and role == place):
                    described[variable] = (role, entry, option)

    lines = [
        '# Variables reference',
        '',
        '<!-- Generated by tests/gen_variables_doc.py from roles/*/meta/argument_specs.yml.',
        '     Do not edit: change the argument specs and run `python3 tests/gen_variables_doc.py`. -->',
        '',
        'Every variable the roles of `hamail.webmail` accept, as their argument specs define them.',
        'Cluster-wide variables (`webmail_*`) are set once for the whole cluster, usually in',
        '`group_vars/all`; the others belong to one role and carry its name. A role that reads',
        'another role\'s variable lists it under "Also reads" and it is described at its owner.',
        '',
    ]

    cluster = sorted(variable for variable in described if variable.startswith(CLUSTER_PREFIX))
    if cluster:
        lines += ['## Cluster-wide variables', '',
                  '| Variable | Type | Default | Read by | Description |',
                  '|---|---|---|---|---|']
        for variable in cluster:
            option = dict(described[variable][2], description=shared_description(variable, specs))
            required = any(
                (spec.get('options') or {}).get(variable, {}).get('required')
                for entry_points in specs.values() for spec in entry_points.values())
            shown = dict(option, required=required)
            lines.append('| `%s` | %s | %s | %s | %s |' % (
                variable, cell(type_text(option)), cell(default_text(shown)),
                ', '.join(readers[variable]), cell(description(option))))
        lines.append('')

    for role, entry_points in specs.items():
        lines += ['## Role `hamail.webmail.%s`' % role, '']
        for entry, spec in entry_points.items():
            if entry != 'main' or len(entry_points) > 1:
                lines += ['### Entry point `%s`' % entry, '']
            if spec.get('short_description'):
                lines += ['**%s.**' % markdown(spec['short_description'].rstrip('.')), '']
            if spec.get('description'):
                lines += [description(spec), '']
            own = []
            also = []
            for variable in sorted(spec.get('options') or {}):
                if described[variable][0] == role and described[variable][1] == entry \
                        and not variable.startswith(CLUSTER_PREFIX):
                    own.append(variable)
                else:
                    also.append(variable)
            if own:
                lines += ['| Variable | Type | Default | Description |', '|---|---|---|---|']
                for variable in own:
                    option = spec['options'][variable]
                    lines.append('| `%s` | %s | %s | %s |' % (
                        variable, cell(type_text(option)), cell(default_text(option)),
                        cell(description(option))))
                lines.append('')
            if also:
                lines += ['Also reads: %s.' % ', '.join('`%s`' % variable for variable in also), '']
    return '\n'.join(lines).rstrip('\n') + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true', help='only check that the file is up to date')
    parser.add_argument('--output', default=OUTPUT, help='where to write (default: docs/variables.md)')
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = open(args.output).read() if os.path.exists(args.output) else ''
        if current != text:
            print('%s is out of date: run python3 tests/gen_variables_doc.py' % os.path.relpath(args.output, ROOT))
            return 1
        print('%s is up to date' % os.path.relpath(args.output, ROOT))
        return 0
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, 'w') as handle:
        handle.write(text)
    print('wrote %s' % os.path.relpath(args.output, ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
