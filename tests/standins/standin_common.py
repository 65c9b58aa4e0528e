"""Shared code of the CloudStack setup-command stand-ins (test tooling, never shipped).

Apache CloudStack cannot be downloaded here, so these scripts behave like its setup commands where an
installer can tell the difference: arguments, validation, exit status, success text, the databases, the
`cloud` user and its grants, db.properties, the key file and the management service being enabled.

Environment (all optional):
  CLOUDSTACK_STANDIN_ROOT        directory used as "/" for every file written (default /)
  CLOUDSTACK_STANDIN_RELEASE     release to imitate ("3.0.2", "4.19", "4.20", "4.21", "4.22");
                                 otherwise ROOT/etc/cloudstack-standin/release, otherwise by command name
  CLOUDSTACK_STANDIN_DB_PREFIX   prefix for the database names (tests: unique names on a shared server)
  CLOUDSTACK_STANDIN_MYSQL       mysql client program (default "mysql")
  CLOUDSTACK_STANDIN_SOCKET      unix socket for host "localhost" (default: the client's own default)
  CLOUDSTACK_STANDIN_ALLOW_NONROOT=1  let setup-management run without root (tests)

Encoding of db.properties values: upstream encrypts with jasypt (PBEWithMD5AndDES, key = the management
key). The stand-in marks its file with `db.cloud.encryption.scheme=cloudstrap-standin-1` and writes
ENC(base64(value XOR keystream)) where keystream = sha256(key + ":0") || sha256(key + ":1") || ...
It hides nothing from anyone holding the key file, which is all a test needs.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile

SCHEME = "cloudstrap-standin-1"
FORBIDDEN = "' \\`"
RELEASES = ("3.0.2", "4.19", "4.20", "4.21", "4.22")


def root():
    return os.environ.get("CLOUDSTACK_STANDIN_ROOT") or "/"


def under_root(path):
    return os.path.join(root(), path.lstrip("/"))


def release(default):
    rel = os.environ.get("CLOUDSTACK_STANDIN_RELEASE")
    if not rel:
        marker = under_root("/etc/cloudstack-standin/release")
        if os.path.isfile(marker):
            with open(marker) as f:
                rel = f.read().strip()
    rel = rel or default
    if rel not in RELEASES:
        sys.stderr.write("stand-in: unknown release %r (expected one of %s)\n" % (rel, ", ".join(RELEASES)))
        sys.exit(2)
    return rel


def release_tuple(rel):
    return tuple(int(x) for x in rel.split("."))


def conf_dir(rel):
    """Where the release keeps db.properties and the key."""
    return "/etc/cloud/management" if rel == "3.0.2" else "/etc/cloudstack/management"


def keystream_xor(data, key):
    out = bytearray()
    block = 0
    while len(out) < len(data):
        out.extend(hashlib.sha256(("%s:%d" % (key, block)).encode()).digest())
        block += 1
    return bytes(a ^ b for a, b in zip(data, out))


def encode(value, key):
    return "ENC(%s)" % base64.b64encode(keystream_xor(value.encode(), key)).decode()


def decode(value, key):
    if not (value.startswith("ENC(") and value.endswith(")")):
        return value
    return keystream_xor(base64.b64decode(value[4:-1]), key).decode()


def write_atomic(path, text, mode):
    d = os.path.dirname(path)
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".standin-", dir=d)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Mysql:
    """Runs SQL through the mysql client; credentials go in a 0600 option file, never on argv."""

    def __init__(self, user, password, host, port):
        self.user, self.password, self.host, self.port = user, password, host, port

    def _option_file(self):
        fd, path = tempfile.mkstemp(prefix="standin-my-", suffix=".cnf")
        os.fchmod(fd, 0o600)
        lines = ["[client]", "user=%s" % self.user]
        # Passwords were checked to hold no single quote, so single quotes are a safe wrapper.
        if self.password:
            lines.append("password='%s'" % self.password)
        lines.append("host=%s" % self.host)
        lines.append("port=%d" % self.port)
        sock = os.environ.get("CLOUDSTACK_STANDIN_SOCKET")
        if sock and self.host == "localhost":
            lines.append("socket=%s" % sock)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def run(self, sql):
        """Return (status, stdout, stderr)."""
        cnf = self._option_file()
        try:
            prog = os.environ.get("CLOUDSTACK_STANDIN_MYSQL", "mysql")
            p = subprocess.run([prog, "--defaults-extra-file=" + cnf, "--batch", "--skip-column-names"],
                               input=sql, capture_output=True, text=True)
            return p.returncode, p.stdout, p.stderr
        finally:
            os.unlink(cnf)


def info(msg, ok=None):
    line = "%-80s" % msg if msg else ""
    if ok is True:
        line += "[ OK ]"
    elif ok is False:
        line += "[ FAILED ]"
    # Like upstream, a step's result is printed on the same line once the step is done.
    print(line, end="\n" if ok is not None else "", flush=True)


def apologize(msg, prog):
    sys.stderr.write("\n\nWe apologize for below error:\n" + "*" * 63 + "\n" + msg + "\n" + "*" * 63 +
                     "\nPlease run:\n\n    %s -h\n\nfor full help\n" % prog)
    sys.stderr.flush()
    sys.exit(1)


# --- service state shared by setup-management and the systemctl/service stand-ins ---

def services_file():
    return under_root("/var/lib/cloudstack-standin/services.json")


def load_services():
    try:
        with open(services_file()) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save_services(state):
    write_atomic(services_file(), json.dumps(state, indent=2, sort_keys=True) + "\n", 0o644)


def set_service(name, **fields):
    state = load_services()
    entry = state.setdefault(name, {"enabled": False, "active": False, "starts": 0, "stops": 0})
    if fields.get("active") is True and not entry["active"]:
        entry["starts"] += 1
    if fields.get("active") is False and entry["active"]:
        entry["stops"] += 1
    entry.update(fields)
    save_services(state)


def local_ip():
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
