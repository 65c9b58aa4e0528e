"""The stand-in of `cloudstack-setup-management` (and 3.0.2's `cloud-setup-management`).

Upstream configures the management server (sudoers, firewall on 3.x, Tomcat) and enables and starts the
`cloudstack-management` service. The stand-in checks what upstream checks (root, a host name) and records the
service as enabled and started in ROOT/var/lib/cloudstack-standin/services.json, the file the systemctl and
service stand-ins share; the lab replaces all of this with a real service.
"""

import optparse
import os
import socket
import sys

import standin_common as c


def main(prog, default_release):
    rel = c.release(default_release)
    parser = optparse.OptionParser(usage="%prog [--https] [--no-start]", prog=prog)
    parser.add_option("--https", action="store_true", dest="https", default=False)
    parser.add_option("--no-start", action="store_true", dest="nostart", default=False)
    parser.add_option("--tomcat7", action="store_true", dest="tomcat7", default=False)
    options, args = parser.parse_args()

    if os.geteuid() != 0 and os.environ.get("CLOUDSTACK_STANDIN_ALLOW_NONROOT") != "1":
        sys.stderr.write("Please run this script as root\n")
        return 1
    if not socket.getfqdn():
        sys.stderr.write("The host name of this computer does not resolve to an IP address.\n")
        return 1
    service = "cloud-management" if rel == "3.0.2" else "cloudstack-management"
    dbp = c.under_root(c.conf_dir(rel) + "/db.properties")
    if not os.path.isfile(dbp):
        sys.stderr.write("Cannot find %s: run %s first\n" % (dbp, prog.replace("management", "databases")))
        return 1
    print("Starting to configure CloudStack Management Server:")
    print("Configure CloudStack Management Server ...[OK]")
    if options.https:
        print("Configure HTTPS ...[OK]")
    c.set_service(service, enabled=True)
    if options.nostart:
        print("Not starting the management server (--no-start)")
    else:
        c.set_service(service, active=True)
        print("Starting %s ...[OK]" % service)
    print("CloudStack Management Server setup is Done!")
    return 0
