"""The decisions of the replication service (roles/dovecot/files/hamail-mailsync) that need no
Dovecot: when a changed mailbox is synced, which node wins a lock, how a mailbox created on
both nodes is given one identity."""

import importlib.machinery
import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'dovecot', 'files',
                      'hamail-mailsync')


@pytest.fixture(scope='module')
def mailsync():
    os.environ.setdefault('MAILSYNC_PEER', '198.51.100.12')
    loader = importlib.machinery.SourceFileLoader('hamail_mailsync', SCRIPT)
    spec = importlib.util.spec_from_loader('hamail_mailsync', loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_a_quiet_mailbox_is_synced_after_the_settle_time(mailsync):
    queue = mailsync.Queue()
    queue.mark('a@example.test', now=100.0)
    assert queue.take_due(now=100.0 + mailsync.SETTLE / 2) == []
    assert queue.take_due(now=100.0 + mailsync.SETTLE) == ['a@example.test']
    assert queue.take_due(now=200.0) == []


def test_a_busy_mailbox_does_not_hold_up_a_quiet_one(mailsync):
    queue = mailsync.Queue()
    queue.mark('quiet@example.test', now=100.0)
    for step in range(10):
        queue.mark('busy@example.test', now=100.0 + step * mailsync.SETTLE / 2)
    assert 'quiet@example.test' in queue.take_due(now=100.0 + 4 * mailsync.SETTLE)


def test_a_mailbox_that_keeps_changing_is_synced_within_max_wait(mailsync):
    queue = mailsync.Queue()
    now = 100.0
    synced = []
    while now < 100.0 + 2 * mailsync.MAX_WAIT and not synced:
        queue.mark('busy@example.test', now=now)
        synced = queue.take_due(now=now)
        now += mailsync.SETTLE / 4
    assert synced == ['busy@example.test']
    assert now - 100.0 <= mailsync.MAX_WAIT + mailsync.SETTLE


def test_a_retry_waits_its_delay_even_when_the_mailbox_changes(mailsync):
    queue = mailsync.Queue()
    queue.mark('a@example.test', delay=5.0, now=100.0)
    queue.mark('a@example.test', now=101.0)
    assert queue.take_due(now=103.0) == []
    assert queue.take_due(now=105.0) == ['a@example.test']


def test_the_lower_address_leads(mailsync):
    assert mailsync.is_leader('198.51.100.11', '198.51.100.12')
    assert not mailsync.is_leader('198.51.100.12', '198.51.100.11')
    # Compared as addresses, not as text.
    assert mailsync.is_leader('10.0.0.9', '10.0.0.10')
    assert mailsync.is_leader('2001:db8::2', '2001:db8::10')


def test_identities_are_read_from_the_tab_output(mailsync):
    output = (
        'mailbox\tuidvalidity\tguid\n'
        'INBOX\t1796409759\t409b08179f09136b3f650000d8526871\n'
        'With Space\t1796409997\tb5a13907650b136b546c0000d8526871\n'
        'broken line\n'
    )
    assert mailsync.parse_identities(output) == {
        'INBOX': ('409b08179f09136b3f650000d8526871', '1796409759'),
        'With Space': ('b5a13907650b136b546c0000d8526871', '1796409997'),
    }
    assert mailsync.parse_identities('') == {}


def test_both_nodes_pick_the_same_identity(mailsync):
    small = ('0150202cb40b136b736b000020140aae', '2')
    large = ('d85999259e09136b4d63000020140aae', '1')
    same = ('aaaa202cb40b136b736b000020140aae', '7')
    node1 = {'INBOX': large, 'Sent': same, 'Only here': small}
    node2 = {'INBOX': small, 'Sent': same}
    assert mailsync.conflicts(node1, node2) == [('INBOX', small, 'local')]
    assert mailsync.conflicts(node2, node1) == [('INBOX', small, 'remote')]


def test_second_copies_are_counted_per_mailbox(mailsync):
    output = (
        'mailbox\tguid\n'
        'INBOX\tg1\n'
        'INBOX\tg2\n'
        'INBOX\tg1\n'
        'Sent\tg1\n'
        'With Space\tg3\n'
        'With Space\tg3\n'
        'With Space\tg3\n'
    )
    assert mailsync.duplicated(output) == {'INBOX': 1, 'With Space': 2}
    assert mailsync.duplicated('mailbox\tguid\n') == {}


def test_a_state_without_mailboxes_asks_for_a_second_sync(mailsync):
    # What dsync returns for a user with no mailbox yet: a version and a checksum.
    assert mailsync.knows_no_mailbox('AQAAAHm4+Jk=')
    assert mailsync.knows_no_mailbox('')
    assert mailsync.knows_no_mailbox('not base64!')
    longer = ('AQAAAMgVBiaNDhNr3GUAACAUCq6NDhNrAwAAAAQAAAAAAAAAAAAAAAAAAAACAAAA'
              '+PZrJ40OE2vEZwAA2FJocY4OE2sAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAA=')
    assert not mailsync.knows_no_mailbox(longer)
