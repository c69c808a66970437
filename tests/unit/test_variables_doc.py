"""docs/variables.md is the rendering of the roles' argument specs, never edited by hand."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_generator():
    path = os.path.join(ROOT, 'tests', 'gen_variables_doc.py')
    spec = importlib.util.spec_from_file_location('gen_variables_doc', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variables_reference_matches_the_argument_specs():
    generator = load_generator()
    with open(generator.OUTPUT) as handle:
        current = handle.read()
    assert current == generator.render(), \
        'docs/variables.md is out of date: run python3 tests/gen_variables_doc.py and commit the result'


def test_every_role_variable_appears_exactly_once_in_a_table():
    generator = load_generator()
    text = generator.render()
    rows = [line for line in text.splitlines() if line.startswith('| `')]
    names = [row.split('`')[1] for row in rows]
    assert len(names) == len(set(names))
    for role, entry_points in generator.load_specs(ROOT).items():
        for spec in entry_points.values():
            for variable in spec.get('options') or {}:
                assert variable in names, '%s (role %s) is missing from docs/variables.md' % (variable, role)


def test_ansible_markup_becomes_markdown():
    generator = load_generator()
    assert generator.markdown('Set O(tls_chain_file) to C(mail.<domain>) (see I(this))') == \
        'Set `tls_chain_file` to `mail.<domain>` (see *this*)'
    assert generator.markdown('L(Dovecot docs, https://doc.dovecot.org/)') == '[Dovecot docs](https://doc.dovecot.org/)'
