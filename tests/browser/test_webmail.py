"""Webmail in a real headless Chromium, through the virtual IP.

user1 logs in with the local part of the address, writes to user2 and sends; user2 logs in,
finds the message in the inbox and opens it. The page is served with the cluster certificate,
which the browser trusts only through the cluster CA (an NSS database made for the test), and
which this test also compares with the certificate file in the secrets directory.

Runs on the controller, which reaches the containers' addresses directly. Settings come from
the lab inventory and can be overridden with environment variables:

  HAMAIL_INVENTORY      inventory directory (default: inventories/lab)
  HAMAIL_VIP            the virtual IP (default: webmail_virtual_ip)
  HAMAIL_DOMAIN         the mail domain (default: webmail_domain)
  HAMAIL_SECRETS_DIR    where tls/ca.crt and tls/service.crt are (default: webmail_secrets_dir)
  HAMAIL_SENDER, HAMAIL_SENDER_PASSWORD, HAMAIL_RECIPIENT, HAMAIL_RECIPIENT_PASSWORD
                        the two users (default: user1@ and user2@ from webmail_users)
  HAMAIL_CHROMIUM       the browser (default: /usr/bin/chromium, Debian's chromium package)
  HAMAIL_REPORTS_DIR    where screenshots go (default: reports/browser)
"""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # reported by the browser fixture, with the fix
    PlaywrightTimeout = TimeoutError
    sync_playwright = None

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 30_000


def _inventory_vars():
    inventory = Path(os.environ.get("HAMAIL_INVENTORY", ROOT / "inventories" / "lab")).resolve()
    merged = {}
    for path in sorted((inventory / "group_vars" / "all").glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text()) or {})
    secrets_dir = str(merged.get("webmail_secrets_dir", "")).replace("{{ inventory_dir }}", str(inventory))
    merged["webmail_secrets_dir"] = secrets_dir
    return merged


def _user(inventory, env_name, local_part):
    address = os.environ.get(env_name)
    password = os.environ.get(env_name + "_PASSWORD")
    if address and password:
        return address, password
    for user in inventory.get("webmail_users", []):
        if user["address"].split("@")[0] == local_part and "password" in user:
            return user["address"], user["password"]
    pytest.fail(f"no {local_part} with a plain password in the inventory; set {env_name} and {env_name}_PASSWORD")


@pytest.fixture(scope="module")
def settings():
    inventory = _inventory_vars()
    domain = os.environ.get("HAMAIL_DOMAIN", inventory.get("webmail_domain", ""))
    secrets = Path(os.environ.get("HAMAIL_SECRETS_DIR", inventory["webmail_secrets_dir"]))
    values = {
        "vip": os.environ.get("HAMAIL_VIP", inventory.get("webmail_virtual_ip", "")),
        "domain": domain,
        "host": f"webmail.{domain}",
        "ca": secrets / "tls" / "ca.crt",
        "certificate": secrets / "tls" / "service.crt",
        "sender": _user(inventory, "HAMAIL_SENDER", "user1"),
        "recipient": _user(inventory, "HAMAIL_RECIPIENT", "user2"),
        "chromium": os.environ.get("HAMAIL_CHROMIUM", "/usr/bin/chromium"),
        "reports": Path(os.environ.get("HAMAIL_REPORTS_DIR", ROOT / "reports" / "browser")),
    }
    for key in ("ca", "certificate"):
        if not values[key].is_file():
            pytest.fail(f"{values[key]} is missing: deploy the cluster first, or set HAMAIL_SECRETS_DIR")
    values["reports"].mkdir(parents=True, exist_ok=True)
    return values


@pytest.fixture(scope="module")
def browser(settings, tmp_path_factory):
    chromium = settings["chromium"]
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        pytest.fail(
            f"Chromium is not installed at {chromium}: install Debian's packages with "
            "`apt-get install chromium libnss3-tools fonts-liberation` (or set HAMAIL_CHROMIUM)"
        )
    if shutil.which("certutil") is None:
        pytest.fail("certutil is missing: install Debian's libnss3-tools, which makes the browser trust the cluster CA")
    if sync_playwright is None:
        pytest.fail("the Python package playwright is missing: run `make venv`")

    # Chromium on Linux trusts what the NSS database in $HOME/.pki/nssdb trusts; give it a
    # fresh home whose database knows the cluster CA and nothing else of ours.
    home = tmp_path_factory.mktemp("chromium-home")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "hamail cluster CA", "-t", "C,,", "-i", str(settings["ca"])],
        check=True,
    )

    args = [
        f"--host-resolver-rules=MAP webmail.{settings['domain']} {settings['vip']},"
        f" MAP mail.{settings['domain']} {settings['vip']}",
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=args, env={**os.environ, "HOME": str(home)}
        )
        yield instance
        instance.close()


def _der_of_first_pem(path):
    pem = path.read_text()
    start = pem.index("-----BEGIN CERTIFICATE-----")
    end = pem.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return ssl.PEM_cert_to_DER_cert(pem[start:end])


def test_virtual_ip_serves_the_cluster_certificate(settings):
    context = ssl.create_default_context(cafile=str(settings["ca"]))
    try:
        with socket.create_connection((settings["vip"], 443), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=settings["host"]) as tls:
                served = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as error:
        pytest.fail(f"the certificate on {settings['vip']}:443 does not verify against {settings['ca']}: {error}")
    except OSError as error:
        pytest.fail(f"cannot reach HTTPS on the virtual IP {settings['vip']}: {error}")
    expected = _der_of_first_pem(settings["certificate"])
    assert (
        hashlib.sha256(served).hexdigest() == hashlib.sha256(expected).hexdigest()
    ), f"{settings['vip']}:443 serves a certificate other than {settings['certificate']}"


def _login(page, settings, address, password):
    page.goto(f"https://{settings['host']}/", timeout=TIMEOUT_MS)
    assert page.locator("input[name='_host'], #rcmloginhost").count() == 0, "the login page shows a server field"
    page.fill("#rcmloginuser", address.split("@")[0])
    page.fill("#rcmloginpwd", password)
    page.click("#rcmloginsubmit")
    page.wait_for_url("**/?_task=mail**", timeout=TIMEOUT_MS)
    # An empty list is hidden, so wait for it to exist rather than to show.
    page.wait_for_selector("#messagelist", state="attached", timeout=TIMEOUT_MS)


def test_user_sends_mail_that_the_other_user_reads(settings, browser):
    sender, sender_password = settings["sender"]
    recipient, recipient_password = settings["recipient"]
    token = uuid.uuid4().hex[:12]
    subject = f"Browser test {token}"
    body = f"Sent from Chromium through the virtual IP, token {token}."
    reports = settings["reports"]

    # user1 writes and sends.
    context = browser.new_context(ignore_https_errors=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    response = page.goto(f"https://{settings['host']}/", timeout=TIMEOUT_MS)
    details = response.security_details() or {}
    assert (
        details.get("subjectName") == f"mail.{settings['domain']}"
    ), f"the browser saw a certificate for {details.get('subjectName')!r}, not the cluster certificate"
    assert (
        details.get("issuer") == f"{settings['domain']} mail cluster CA"
    ), f"the browser saw a certificate issued by {details.get('issuer')!r}, not by the cluster CA"
    _login(page, settings, sender, sender_password)
    page.goto(f"https://{settings['host']}/?_task=mail&_action=compose", timeout=TIMEOUT_MS)
    recipient_input = page.locator("#compose_to .recipient-input input")
    recipient_input.fill(recipient + ",")
    page.fill("#compose-subject", subject)
    page.fill("#composebody", body)
    page.locator(".btn.btn-primary.send:visible").first.click()
    # Roundcube leaves the compose screen for the message list once the server took the mail.
    try:
        page.wait_for_url(lambda url: "_action=compose" not in url, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        page.screenshot(path=str(reports / "compose-not-sent.png"), full_page=True)
        raise
    context.close()

    # user2 finds it in the inbox (delivery may take a moment) and opens it.
    context = browser.new_context(ignore_https_errors=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _login(page, settings, recipient, recipient_password)
    row = page.locator("#messagelist tr", has_text=subject).first
    deadline = time.monotonic() + 60
    while True:
        try:
            # The list fills in after the page has loaded; give each look ten seconds.
            row.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                page.screenshot(path=str(reports / "inbox-missing-message.png"), full_page=True)
                pytest.fail(f"{recipient} has no message {subject!r} in the inbox after 60 s")
            page.goto(f"https://{settings['host']}/?_task=mail&_mbox=INBOX", timeout=TIMEOUT_MS)
    page.screenshot(path=str(reports / "inbox.png"), full_page=True)

    row.dblclick()
    page.wait_for_url("**_action=show**", timeout=TIMEOUT_MS)
    message = page.locator("#messagebody")
    message.wait_for(timeout=TIMEOUT_MS)
    assert token in message.inner_text(), f"the opened message does not carry the token {token}"
    assert (
        sender in page.locator(".header").first.inner_text() or sender in page.content()
    ), f"the opened message does not name the sender {sender}"
    page.screenshot(path=str(reports / "message.png"), full_page=True)
    context.close()
