#!/bin/sh
# Install Pylantir into a virtual environment at PREFIX from this source tree: the build steps of the
# container image (deploy/Dockerfile) and of a host install under systemd (deploy/pylantir.service).
#
#   deploy/install.sh PREFIX [PLUGIN...]
#
# PLUGIN: the source plugins to install beside the core (default: csv json redcap calpendo).
# The core comes with the PostgreSQL driver. pip's usual environment (PIP_INDEX_URL...) applies.
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 PREFIX [PLUGIN...]   (e.g. $0 /opt/pylantir csv redcap)" >&2
    exit 2
fi
prefix=$1
shift
tree=$(cd "$(dirname "$0")/.." && pwd)
plugins=${*:-csv json redcap calpendo}

set -- "$tree/packages/pylantir-core[postgresql]"
for plugin in $plugins; do
    if [ ! -d "$tree/packages/pylantir-$plugin" ]; then
        echo "$0: no plugin '$plugin' in $tree/packages (pylantir-$plugin)" >&2
        exit 2
    fi
    set -- "$@" "$tree/packages/pylantir-$plugin"
done

python3 -m venv "$prefix"
"$prefix/bin/pip" install --quiet --no-cache-dir "$@"
# what was installed answers, with every plugin loaded
"$prefix/bin/pylantir" --version
PYLANTIR_STRICT_PLUGINS=1 "$prefix/bin/pylantir" sources list
