"""Make `ansible_collections.hamail.webmail` importable from this checkout.

.collections/ansible_collections/hamail/webmail links back to the repository root (see
ansible.cfg); `ansible_collections` is a namespace package, so the bundled collections of the
ansible package stay importable beside it.
"""

import os
import sys

COLLECTIONS = os.path.join(os.path.dirname(__file__), '..', '..', '.collections')
if os.path.abspath(COLLECTIONS) not in sys.path:
    sys.path.insert(0, os.path.abspath(COLLECTIONS))
