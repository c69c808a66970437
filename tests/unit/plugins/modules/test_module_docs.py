"""Each module's DOCUMENTATION says exactly what its argument spec accepts.

ansible-test's validate-modules does this and more, but needs packages this venv lacks (see
tests/run-sanity.sh); this keeps the part a user relies on, offline.
"""

import pytest
import yaml

from ansible_collections.hamail.webmail.plugins.modules import cluster_status

MODULES = [cluster_status]


def documented(module):
    return yaml.safe_load(module.DOCUMENTATION)


@pytest.mark.parametrize('module', MODULES, ids=lambda module: module.__name__.rsplit('.', 1)[-1])
def test_every_option_is_documented_as_the_spec_defines_it(module):
    options = documented(module)['options']
    spec = module.ARGUMENT_SPEC
    assert sorted(options) == sorted(spec)
    for name, rule in spec.items():
        doc = options[name]
        assert doc.get('type', 'str') == rule.get('type', 'str'), name
        assert doc.get('required', False) == rule.get('required', False), name
        assert doc.get('default') == rule.get('default'), name
        assert doc.get('elements') == rule.get('elements'), name
        assert doc.get('description'), name


@pytest.mark.parametrize('module', MODULES, ids=lambda module: module.__name__.rsplit('.', 1)[-1])
def test_examples_and_return_values_parse(module):
    examples = yaml.safe_load(module.EXAMPLES)
    assert examples and all('name' in task for task in examples)
    name = documented(module)['module']
    assert all('hamail.webmail.' + name in task for task in examples)
    returned = yaml.safe_load(module.RETURN)
    assert all(value.get('description') for value in returned.values())
