#!/usr/bin/env bash
# Printed at the end of `make lab`: where the webmail is, who can log in, how to stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import yaml

with open("inventories/lab/group_vars/all/main.yml") as f:
    lab = yaml.safe_load(f)
domain, vip = lab["webmail_domain"], lab["webmail_virtual_ip"]
print()
print("The lab is up: two nodes behind the virtual IP %s." % vip)
print()
print("  Webmail:  https://webmail.%s/  (the virtual IP %s; the certificate carries the" % (domain, vip))
print("            names only: add '%s webmail.%s mail.%s' to /etc/hosts)" % (vip, domain, domain))
print("            the private CA is inventories/lab/secrets/tls/ca.crt")
print("  IMAP:     mail.%s:993 (TLS)   SMTP submission: mail.%s:587 (STARTTLS)" % (domain, domain))
print()
print("  Logins:")
for user in lab["webmail_users"]:
    print("    %-28s %s" % (user["address"], user.get("password", "(hash given)")))
print()
print("  Failback: a returning node1 takes the virtual IP back after %s s (lab setting;"
      % lab.get("keepalived_failback_delay", 60))
print("            the default for real servers is 60 s)")
print()
print("  Tools:    . .venv/bin/activate   (ansible-playbook and molecule live in .venv)")
print("  Health:   ansible-playbook -i inventories/lab playbooks/verify.yml")
print("  Stop it:  make lab-down")
PY
