"""Bad-input tests: the real site playbook against the lab nodes, one broken inventory each.

Every case copies the lab inventory, breaks one thing, runs the site playbook and checks that
the run fails in the preflight with a message naming the variable, that no role task ran, that
no secret appears in the output, and that the nodes are exactly as before (installed packages
and a listing of /etc, taken before and after).

Environment:
  HAMAIL_INVENTORY  inventory to copy (default: inventories/lab); the node containers are the
                    ansible_host values of its webmail_nodes group.
  HAMAIL_PLAYBOOK   playbook to run (default: playbooks/site.yml).
"""

from __future__ import annotations

import copy
import datetime
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = Path(os.environ.get("HAMAIL_INVENTORY", ROOT / "inventories" / "lab"))
PLAYBOOK = Path(os.environ.get("HAMAIL_PLAYBOOK", ROOT / "playbooks" / "site.yml"))
PREFLIGHT = ROOT / "playbooks" / "tasks" / "preflight.yml"
TIMEOUT = 300


def tool(name: str) -> str:
    """The Ansible command beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name

# Written on every node listing; a change in any of these is a change to the node.
SNAPSHOT = (
    "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' | sort; "
    "find /etc -xdev -printf '%p %y %s %m %u:%g %T@\\n' | sort"
)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def dump(path: Path, data: Any) -> None:
    path.write_text("---\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def node_containers() -> list[str]:
    hosts = load(INVENTORY / "hosts.yml")["webmail_nodes"]["hosts"]
    return [hostvars.get("ansible_host", name) for name, hostvars in hosts.items()]


def snapshot(container: str) -> str:
    result = subprocess.run(
        ["docker", "exec", container, "sh", "-c", SNAPSHOT],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout


class Inventory:
    """A scratch copy of the lab inventory that a case edits."""

    def __init__(self, path: Path) -> None:
        self.path = path
        shutil.copytree(INVENTORY, path, ignore=shutil.ignore_patterns("secrets", "tls"))
        self.hosts = load(path / "hosts.yml")
        self.main = load(path / "group_vars" / "all" / "main.yml")

    def node(self, name: str) -> dict:
        return self.hosts["webmail_nodes"]["hosts"][name]

    def save(self) -> None:
        dump(self.path / "hosts.yml", self.hosts)
        dump(self.path / "group_vars" / "all" / "main.yml", self.main)

    def write_vars(self, name: str, text: str) -> None:
        (self.path / "group_vars" / "all" / name).write_text(text)


@dataclass
class Case:
    id: str
    expect: str  # regular expression the output must contain
    change: Callable[[Inventory], None]
    hidden: list[str] = field(default_factory=list)  # strings that must not be printed
    needs: tuple[str, str] | None = None  # (role, option) whose argument spec the case relies on

    def __str__(self) -> str:
        return self.id


def set_vars(**values: Any) -> Callable[[Inventory], None]:
    def change(inv: Inventory) -> None:
        inv.main.update(copy.deepcopy(values))
    return change


def set_secret(name: str, value: str) -> Callable[[Inventory], None]:
    """Replace a secret where the lab keeps it (secrets.yml wins over main.yml)."""
    def change(inv: Inventory) -> None:
        path = inv.path / "group_vars" / "all" / "secrets.yml"
        data = load(path) or {}
        data[name] = value
        dump(path, data)
    return change


def drop_var(name: str) -> Callable[[Inventory], None]:
    def change(inv: Inventory) -> None:
        inv.main.pop(name, None)
        for path in (inv.path / "group_vars" / "all").glob("*.yml"):
            data = load(path) or {}
            if name in data and path.name != "main.yml":
                data.pop(name)
                dump(path, data)
    return change


def set_node(node: str, **values: Any) -> Callable[[Inventory], None]:
    def change(inv: Inventory) -> None:
        for key, value in values.items():
            if value is None:
                inv.node(node).pop(key, None)
            else:
                inv.node(node)[key] = value
    return change


def edit_users(edit: Callable[[list[dict]], None]) -> Callable[[Inventory], None]:
    def change(inv: Inventory) -> None:
        edit(inv.main["webmail_users"])
    return change


def chain(*changes: Callable[[Inventory], None]) -> Callable[[Inventory], None]:
    def change(inv: Inventory) -> None:
        for one in changes:
            one(inv)
    return change


# --- certificates made on the fly (controller side only) -------------------------------------

def make_certificate(directory: Path, stem: str, names: list[str]) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


def own_certificate(names: list[str], other_key: bool = False) -> Callable[[Inventory], None]:
    def change(inv: Inventory) -> None:
        cert, key = make_certificate(inv.path, "own", [n.format(domain=inv.main["webmail_domain"]) for n in names])
        if other_key:
            _, key = make_certificate(inv.path, "other", ["other.invalid"])
        inv.main.update(tls_certificate_file=str(cert), tls_private_key_file=str(key))
    return change


def certificate_only(inv: Inventory) -> None:
    cert, _ = make_certificate(inv.path, "own", ["mail." + inv.main["webmail_domain"]])
    inv.main["tls_certificate_file"] = str(cert)


# --- the cases ------------------------------------------------------------------------------

def _one_node(inv: Inventory) -> None:
    inv.hosts["webmail_nodes"]["hosts"].pop("node2")


def _no_nodes(inv: Inventory) -> None:
    # The nodes were filed under a misspelt group: webmail_nodes is missing altogether.
    inv.hosts["webmail_node"] = inv.hosts.pop("webmail_nodes")


def _three_nodes(inv: Inventory) -> None:
    inv.hosts["webmail_nodes"]["hosts"]["node3"] = {
        "ansible_host": "hamail-node3-does-not-exist", "webmail_node_address": "198.51.100.13",
        "keepalived_priority": 50,
    }


def _node_address(inv: Inventory, node: str) -> str:
    return inv.node(node)["webmail_node_address"]


def _vip_on_node(inv: Inventory) -> None:
    inv.main["webmail_virtual_ip"] = _node_address(inv, "node1")


def _address_not_on_node(inv: Inventory) -> None:
    # A free address of the same network: valid on paper, but node1 does not hold it.
    prefix = _node_address(inv, "node1").rsplit(".", 1)[0]
    inv.node("node1")["webmail_node_address"] = prefix + ".99"


def _plaintext(inv: Inventory) -> None:
    inv.main["webmail_allow_plaintext_passwords"] = False


def _duplicate_user(users: list[dict]) -> None:
    users.append({"address": users[1]["address"].upper(), "name": "Copy", "password": "lab-copy-pass"})


def _alias_is_user(users: list[dict]) -> None:
    users[0]["aliases"] = [users[1]["address"]]


def _bad_address(users: list[dict]) -> None:
    users[2]["address"] = "user1@@" + users[2]["address"].split("@")[1]


def _equals_sign_address(users: list[dict]) -> None:
    users[2]["address"] = "user=1@example.test"


def _foreign_address(users: list[dict]) -> None:
    users[2]["address"] = "user1@elsewhere.invalid"


def _md5_hash(users: list[dict]) -> None:
    users[0].pop("password")
    users[0]["password_hash"] = "{MD5}$1$abcdefgh$0123456789abcdefghijkl"


def _both_passwords(users: list[dict]) -> None:
    users[0]["password_hash"] = "{SHA512-CRYPT}$6$" + "s" * 16 + "$" + "h" * 86


def _no_password(users: list[dict]) -> None:
    users[3].pop("password")


def _user_without_address(users: list[dict]) -> None:
    users[3].pop("address")


CASES = [
    Case("failback off written unquoted", r"keepalived_failback is False: YAML reads an unquoted",
         set_vars(keepalived_failback=False)),
    Case("track weight smaller than the priority gap",
         r"keepalived_track_weight is -40, but the node\s+priorities differ by 50",
         set_vars(keepalived_track_weight=-40)),
    Case("dns_primary naming no node", r"dns_primary is 'node3', which is not a host of the webmail_nodes group",
         set_vars(dns_primary="node3")),
    Case("TSIG secret that is not base64", r"dns_tsig_secret is not a base64 string",
         set_secret("dns_tsig_secret", "not-base64-at-all!not-base64-at-all!"), hidden=["not-base64-at-all"]),
    Case("Roundcube key of the wrong length", r"roundcube_des_key \(secret, not shown\) must be 24 characters",
         set_secret("roundcube_des_key", "tooshortkey-hamail"), hidden=["tooshortkey-hamail"]),
    Case("user address with an equals sign", r"webmail_users address 'user=1@example\.test' is not a valid",
         edit_users(_equals_sign_address)),
    Case("no cluster group", r"webmail_nodes must hold exactly two nodes; it holds 0 \(none\)", _no_nodes),
    Case("one node in the cluster group", r"webmail_nodes must hold exactly two nodes; it holds 1", _one_node),
    Case("three nodes in the cluster group", r"webmail_nodes must hold exactly two nodes; it holds 3",
         _three_nodes),
    Case("virtual IP outside the network", r"webmail_virtual_ip is 203\.0\.113\.10, which is not a usable address",
         set_vars(webmail_virtual_ip="203.0.113.10")),
    Case("virtual IP equal to a node address", r"webmail_virtual_ip is [0-9.]+, the address of node node1",
         _vip_on_node),
    Case("virtual IP is a name, not an address", r"webmail_virtual_ip is 'mail\.example\.test', which is not an IPv4",
         set_vars(webmail_virtual_ip="mail.example.test")),
    Case("network with host bits set", r"webmail_network is '[0-9.]+\.5/24', which has host bits set",
         lambda inv: inv.main.update(webmail_network=inv.main["webmail_network"].replace(".0/", ".5/"))),
    Case("node address outside the network", r"webmail_node_address of node2 is 203\.0\.113\.12, which is not a usable",
         set_node("node2", webmail_node_address="203.0.113.12")),
    Case("node address not present on the node", r"webmail_node_address of node1 is [0-9.]+\.99, but the node has",
         _address_not_on_node),
    Case("equal VRRP priorities", r"keepalived_priority is 100 on both nodes",
         set_node("node1", keepalived_priority=100)),
    Case("VRRP priority out of range", r"keepalived_priority of node1 is '300'\. Give a whole number from 1 to 254",
         set_node("node1", keepalived_priority=300)),
    Case("virtual router id 0", r"keepalived_virtual_router_id of node[12] is '0'\. Give a whole number from 1 to 255",
         set_vars(keepalived_virtual_router_id=0)),
    Case("virtual router id 256", r"keepalived_virtual_router_id of node[12] is '256'",
         set_vars(keepalived_virtual_router_id=256)),
    Case("domain with an empty label", r"webmail_domain is 'example\.\.test', which is not a valid domain name",
         set_vars(webmail_domain="example..test")),
    Case("domain with a trailing dot", r"webmail_domain is 'example\.test\.', which is not a valid domain name",
         set_vars(webmail_domain="example.test.")),
    Case("malformed user address", r"webmail_users address 'user1@@example\.test' is not a valid mail address",
         edit_users(_bad_address)),
    Case("user address outside the mail domain", r"webmail_users address 'user1@elsewhere\.invalid' is not a valid",
         edit_users(_foreign_address)),
    Case("same address twice", r"webmail_users gives teacher@example\.test more than once",
         edit_users(_duplicate_user), hidden=["lab-copy-pass"]),
    Case("alias equal to another user's address", r"webmail_users gives teacher@example\.test more than once",
         edit_users(_alias_is_user)),
    Case("user entry without an address", r"webmail_users entry number 4 \(name: Test User Two\) has no address",
         edit_users(_user_without_address), hidden=["lab-user2-pass"]),
    Case("plain password where plain passwords are not allowed",
         r"webmail_users entry head@example\.test has a plain-text password",
         _plaintext, hidden=["lab-head-pass"]),
    Case("password hash of an unsupported scheme",
         r"webmail_users entry head@example\.test has a password_hash of an unsupported or damaged scheme",
         edit_users(_md5_hash), hidden=["0123456789abcdefghijkl"]),
    Case("both password and password_hash", r"webmail_users entry head@example\.test has both password and",
         edit_users(_both_passwords), hidden=["lab-head-pass", "h" * 86]),
    Case("user without a password", r"webmail_users entry user2@example\.test has no password",
         edit_users(_no_password)),
    Case("own certificate without its key", r"tls_certificate_file is '.*own\.crt' but tls_private_key_file is empty",
         certificate_only),
    Case("own certificate with another key", r"tls_private_key_file '.*other\.key' does not match tls_certificate_file",
         own_certificate(["mail.{domain}", "webmail.{domain}"], other_key=True)),
    Case("own certificate for other names", r"tls_certificate_file '.*own\.crt' does not cover mail\.example\.test and",
         own_certificate(["mail.other.invalid"])),
    Case("own certificate file missing", r"tls_certificate_file is '/nonexistent/own\.crt', which is not a file",
         set_vars(tls_certificate_file="/nonexistent/own.crt", tls_private_key_file="/nonexistent/own.key")),
    Case("recursion network without a prefix length", r"dns_recursion_networks has 10\.0\.0\.1, which is not a network",
         set_vars(dns_recursion_networks=["192.168.0.0/16", "10.0.0.1"])),
    Case("recursion network with host bits set", r"dns_recursion_networks has 10\.1\.2\.3/8.*e\.g\. 10\.0\.0\.0/8",
         set_vars(dns_recursion_networks=["10.1.2.3/8"])),
    Case("recursion networks as one string", r"dns_recursion_networks is '10\.0\.0\.0/8', a str, not a list",
         set_vars(dns_recursion_networks="10.0.0.0/8")),
    Case("wrong type: users as a string", r"webmail_users is a str, not a list",
         set_vars(webmail_users="head@example.test")),
    Case("wrong type: certificate lifetime as words",
         r"hamail\.webmail\.tls: argument 'tls_certificate_days' is of type str.*Fix: give tls_certificate_days as int",
         set_vars(tls_certificate_days="two years")),
    Case("wrong type: priority as words", r"keepalived_priority of node2 is 'low'",
         set_node("node2", keepalived_priority="low")),
    Case("missing: mail domain", r"webmail_domain is not set", drop_var("webmail_domain")),
    Case("missing: virtual IP", r"webmail_virtual_ip is not set", drop_var("webmail_virtual_ip")),
    Case("missing: secrets directory",
         r"hamail\.webmail\.tls: missing required arguments: webmail_secrets_dir",
         drop_var("webmail_secrets_dir")),
    Case("missing: Roundcube secret key",
         r"hamail\.webmail\.roundcube: missing required arguments: roundcube_des_key\. Fix: give roundcube_des_key",
         drop_var("roundcube_des_key"), needs=("roundcube", "roundcube_des_key")),
    Case("wrong type: HSTS lifetime as words",
         r"hamail\.webmail\.webserver: argument 'webserver_hsts_max_age' is of type str",
         set_vars(webserver_hsts_max_age="one year"), needs=("webserver", "webserver_hsts_max_age")),
    Case("missing: node address", r"webmail_node_address is not set for node2",
         set_node("node2", webmail_node_address=None)),
    Case("missing: VRRP priority", r"keepalived_priority is not set for node1",
         set_node("node1", keepalived_priority=None)),
]


def ansible_env() -> dict[str, str]:
    """The environment of a plain run from the checkout: nothing inherited from molecule."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    return env


def spec_has_option(role: str, option: str) -> bool:
    path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
    if not path.is_file():
        return False
    entry_points = (load(path) or {}).get("argument_specs") or {}
    return any(option in ((entry or {}).get("options") or {}) for entry in entry_points.values())


def run_site(inventory: Path) -> subprocess.CompletedProcess:
    env = ansible_env()
    return subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), str(PLAYBOOK)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def containers() -> list[str]:
    names = node_containers()
    for name in names:
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                               capture_output=True, text=True)
        if state.stdout.strip() != "true":
            pytest.fail(f"node container {name} is not running (inventory {INVENTORY})")
    return names


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_inventory_is_refused_in_preflight(case: Case, containers: list[str], tmp_path: Path) -> None:
    if case.needs and not spec_has_option(*case.needs):
        pytest.skip(f"role {case.needs[0]} has no argument spec for {case.needs[1]}")
    inventory = Inventory(tmp_path / "inventory")
    case.change(inventory)
    inventory.save()

    before = {name: snapshot(name) for name in containers}
    result = run_site(inventory.path)
    after = {name: snapshot(name) for name in containers}
    output = result.stdout + result.stderr

    assert result.returncode != 0, f"the site playbook accepted the broken inventory:\n{output[-3000:]}"
    assert re.search(case.expect, output), f"expected /{case.expect}/ in the output:\n{output[-4000:]}"
    assert not re.search(r"^TASK \[hamail\.webmail\.", output, re.M), f"a role task ran:\n{output[-4000:]}"
    assert not re.search(r"^changed: ", output, re.M), f"a task reported a change:\n{output[-4000:]}"
    for secret in case.hidden:
        assert secret not in output, f"the output shows a secret ({secret[:4]}...)"
    for name in containers:
        assert before[name] == after[name], f"{name} changed during the refused run"


# --- inputs that must pass the preflight -----------------------------------------------------

VAULT_PASSWORD = "hamail-negative-tests"


def vault_string(inv: Inventory, plaintext: str) -> str:
    password_file = inv.path / ".vault-pass"
    password_file.write_text(VAULT_PASSWORD)
    result = subprocess.run(
        [tool("ansible-vault"), "encrypt_string", "--vault-password-file", str(password_file), plaintext],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return result.stdout.strip()


def _vaulted_inline(inv: Inventory) -> None:
    inv.main["webmail_allow_plaintext_passwords"] = False
    users = inv.main.pop("webmail_users")
    lines = ["---", "webmail_users:"]
    for user in users:
        lines.append(f"  - address: {user['address']}")
        lines.append("    password: " + vault_string(inv, user["password"]).replace("\n", "\n    "))
    inv.write_vars("users.yml", "\n".join(lines) + "\n")


def _vaulted_file(inv: Inventory) -> None:
    inv.main["webmail_allow_plaintext_passwords"] = False
    users = inv.main.pop("webmail_users")
    path = inv.path / "group_vars" / "all" / "users.yml"
    dump(path, {"webmail_users": users})
    password_file = inv.path / ".vault-pass"
    password_file.write_text(VAULT_PASSWORD)
    subprocess.run([tool("ansible-vault"), "encrypt", "--vault-password-file", str(password_file), str(path)],
                   capture_output=True, check=True, cwd=ROOT)


def _hashes(inv: Inventory) -> None:
    inv.main["webmail_allow_plaintext_passwords"] = False
    hashes = [
        "{SHA512-CRYPT}$6$abcdefgh12345678$" + "A" * 86,
        "$2y$10$" + "b" * 53,
        "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$6$rounds=5000$salt$" + "C" * 86,
    ]
    for user, value in zip(inv.main["webmail_users"], hashes):
        user.pop("password")
        user["password_hash"] = value


GOOD = [
    Case("vault-encrypted inline passwords", "", _vaulted_inline),
    Case("passwords in a vault-encrypted vars file", "", _vaulted_file),
    Case("password hashes of every supported scheme", "", _hashes),
    Case("own wildcard certificate with its key", "", own_certificate(["*.{domain}"])),
    Case("recursion networks in CIDR form", "", set_vars(dns_recursion_networks=["10.0.0.0/8", "fd00::/8"])),
]


@pytest.mark.parametrize("case", GOOD, ids=str)
def test_valid_inventory_passes_preflight(case: Case, containers: list[str], tmp_path: Path) -> None:
    inventory = Inventory(tmp_path / "inventory")
    case.change(inventory)
    inventory.save()
    # The preflight finds the roles' specs beside its playbook directory, as in the collection.
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "roles").symlink_to(ROOT / "roles")
    playbook = tmp_path / "playbooks" / "preflight.yml"
    dump(playbook, [{
        "name": "Run only the preflight", "hosts": "webmail_nodes", "gather_facts": False,
        "any_errors_fatal": True,
        "tasks": [{"name": "Check the inventory", "ansible.builtin.import_tasks": str(PREFLIGHT)}],
    }])
    env = ansible_env()
    args = [tool("ansible-playbook"), "-i", str(inventory.path), str(playbook)]
    if (inventory.path / ".vault-pass").exists():
        args += ["--vault-password-file", str(inventory.path / ".vault-pass")]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"the preflight refused a valid inventory:\n{output[-4000:]}"
