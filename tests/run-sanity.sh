#!/usr/bin/env bash
# `ansible-test sanity` for the collection's plugins.
#
# ansible-test insists on running inside ansible_collections/<namespace>/<name>, so this copies
# the collection's plugins and metadata into a scratch tree of that shape and runs there.
#
# Only the sanity tests that need nothing beyond ansible-core and the project venv are run
# (--local, no downloads). The others need tools the venv does not carry and would make
# ansible-test install them: pylint, pep8 (pycodestyle), validate-modules (voluptuous),
# yamllint's sanity wrapper and import (a fresh virtualenv per Python), changelog (antsibull),
# pslint (PowerShell), shellcheck; ansible-doc and runtime-metadata too, because ansible-test
# bootstraps pip into every venv that installs anything, from a script it downloads outside
# PyPI. What ansible-doc checks is covered below by running ansible-doc on every plugin, and
# tests/unit/plugins/modules/test_module_docs.py compares each module's DOCUMENTATION with its
# argument spec, as validate-modules does. Set HAMAIL_SANITY_TESTS to choose another list, for example
# once those tools are pinned in requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

default_tests=(
    action-plugin-docs
    compile
    empty-init
    ignores
    line-endings
    no-assert
    no-get-exception
    no-illegal-filenames
    no-smart-quotes
    replace-urlopen
    shebang
    symlinks
    use-argspec-type-path
    use-compat-six
)
read -r -a tests <<< "${HAMAIL_SANITY_TESTS:-${default_tests[*]}}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
collection="$scratch/ansible_collections/hamail/webmail"
mkdir -p "$collection"
# What sanity looks at: the plugins, the metadata and the tests' ignore files, if any.
cp -a galaxy.yml meta plugins "$collection/"
if [ -d tests/sanity ]; then
    mkdir -p "$collection/tests" && cp -a tests/sanity "$collection/tests/"
fi

# ansible-test reads git to list files when it can; a scratch repository keeps it to ours.
git -C "$collection" init --quiet
git -C "$collection" add --all
git -C "$collection" -c user.name=sanity -c user.email=sanity@localhost commit --quiet -m sanity

python_version=${HAMAIL_SANITY_PYTHON:-3.11}
args=()
for test in "${tests[@]}"; do args+=(--test "$test"); done

printf '[defaults]\n' > "$scratch/ansible.cfg"
cd "$collection"
echo "ansible-test sanity (python $python_version) on plugins/: ${tests[*]}"
ANSIBLE_CONFIG="$scratch/ansible.cfg" ansible-test sanity --local --python "$python_version" --color no \
    "${args[@]}" plugins/

# The docs of every plugin must load and render (what the ansible-doc sanity test checks).
documented=0
for kind_dir in plugins/*/; do
    kind=$(basename "$kind_dir")
    case $kind in
        module_utils|plugin_utils|doc_fragments) continue ;;
        modules) kind=module ;;
        *) kind=${kind%s} ;;
    esac
    for file in "$kind_dir"*.py; do
        [ -e "$file" ] || continue
        name=hamail.webmail.$(basename "$file" .py)
        echo "ansible-doc -t $kind $name"
        ANSIBLE_CONFIG="$scratch/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$scratch" ansible-doc -t "$kind" "$name" >/dev/null
        ANSIBLE_CONFIG="$scratch/ansible.cfg" ANSIBLE_COLLECTIONS_PATH="$scratch" ansible-doc -t "$kind" --json "$name" \
            | python3 -c 'import json, sys; docs = json.load(sys.stdin); assert docs, "no documentation"'
        documented=$((documented + 1))
    done
done
echo "sanity: ${#tests[@]} tests passed on plugins/, docs of $documented plugins render (from $root)"
