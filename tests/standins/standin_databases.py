"""The stand-in of `cloudstack-setup-databases` (and 3.0.2's `cloud-setup-databases`).

Usage as upstream:
  PROG user:password@host[:port] [--deploy-as=rootuser:rootpassword | --schema-only]
       [-e file|web|env] [-m MGMTKEY] [-k DBKEY] [-i MGMTIP] [-r REGIONID] [--force-recreate] [-v]
"""

import optparse
import os
import sys

import standin_common as c

# The tables cloudstrap reads or writes, shaped like the real ones where it looks (column names and types),
# and the rows a fresh 4.x database starts with: the SYSTEM template of KVM is id 3.
CLOUD_SCHEMA = """
CREATE TABLE `version` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `version` char(40) NOT NULL,
  `updated` datetime NOT NULL,
  `step` char(32) NOT NULL,
  PRIMARY KEY (`id`), UNIQUE KEY (`version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `configuration` (
  `category` varchar(255) NOT NULL DEFAULT 'Advanced',
  `instance` varchar(255) NOT NULL,
  `component` varchar(255) NOT NULL DEFAULT 'management-server',
  `name` varchar(255) NOT NULL,
  `value` varchar(8191),
  `description` varchar(1024),
  PRIMARY KEY (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `user` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `uuid` varchar(40),
  `username` varchar(255) NOT NULL,
  `password` varchar(255) NOT NULL,
  `account_id` bigint unsigned NOT NULL,
  `firstname` varchar(255),
  `lastname` varchar(255),
  `email` varchar(255),
  `state` varchar(10) NOT NULL DEFAULT 'enabled',
  `api_key` varchar(255),
  `secret_key` varchar(255),
  `created` datetime NOT NULL,
  `removed` datetime,
  PRIMARY KEY (`id`), UNIQUE KEY (`api_key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `vm_template` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `unique_name` varchar(255) NOT NULL,
  `name` varchar(255) NOT NULL,
  `uuid` varchar(40),
  `public` int(1) unsigned NOT NULL,
  `featured` int(1) unsigned NOT NULL,
  `type` varchar(32),
  `hvm` int(1) unsigned NOT NULL,
  `bits` int(6) unsigned NOT NULL,
  `url` varchar(255),
  `format` varchar(32) NOT NULL,
  `created` datetime NOT NULL,
  `removed` datetime,
  `account_id` bigint unsigned NOT NULL,
  `checksum` varchar(255),
  `display_text` varchar(4096),
  `guest_os_id` bigint unsigned NOT NULL,
  `bootable` int(1) unsigned NOT NULL DEFAULT 1,
  `cross_zones` int(1) unsigned NOT NULL DEFAULT 0,
  `hypervisor_type` varchar(32),
  `state` varchar(255),
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO `version` (`version`, `updated`, `step`) VALUES ('{release}', now(), 'Complete');

INSERT INTO `user` (`id`, `uuid`, `username`, `password`, `account_id`, `firstname`, `lastname`, `created`) VALUES
  (1, uuid(), 'system', RAND(), 1, 'system', 'cloud', now()),
  (2, uuid(), 'admin', '5f4dcc3b5aa765d61d8327deb882cf99', 2, 'admin', 'cloud', now());

INSERT INTO `vm_template` (`id`, `unique_name`, `name`, `uuid`, `public`, `featured`, `type`, `hvm`, `bits`, `url`,
  `format`, `created`, `account_id`, `display_text`, `guest_os_id`, `cross_zones`, `hypervisor_type`, `state`) VALUES
  (1, 'routing-1', 'SystemVM Template (XenServer)', uuid(), 0, 0, 'SYSTEM', 0, 64, 'http://download.cloudstack.org/systemvm/placeholder-xen.vhd.bz2', 'VHD', now(), 1, 'SystemVM Template (XenServer)', 184, 1, 'XenServer', 'Active'),
  (2, 'centos53-x86_64', 'CentOS 5.3(64-bit) no GUI (XenServer)', uuid(), 1, 1, 'BUILTIN', 0, 64, 'http://download.cloudstack.org/templates/builtin/placeholder.vhd.bz2', 'VHD', now(), 1, 'CentOS 5.3(64-bit) no GUI (XenServer)', 12, 1, 'XenServer', 'Active'),
  (3, 'routing-3', 'SystemVM Template (KVM)', uuid(), 0, 0, 'SYSTEM', 0, 64, 'http://download.cloudstack.org/systemvm/placeholder-kvm.qcow2.bz2', 'QCOW2', now(), 1, 'SystemVM Template (KVM)', 15, 1, 'KVM', 'Active'),
  (4, 'centos55-x86_64', 'CentOS 5.5(64-bit) no GUI (KVM)', uuid(), 1, 1, 'BUILTIN', 0, 64, 'http://download.cloudstack.org/templates/builtin/placeholder.qcow2.bz2', 'QCOW2', now(), 1, 'CentOS 5.5(64-bit) no GUI (KVM)', 112, 1, 'KVM', 'Active'),
  (8, 'routing-8', 'SystemVM Template (vSphere)', uuid(), 0, 0, 'SYSTEM', 0, 64, 'http://download.cloudstack.org/systemvm/placeholder.ova', 'OVA', now(), 1, 'SystemVM Template (vSphere)', 15, 1, 'VMware', 'Active');

INSERT INTO `configuration` (`category`, `instance`, `name`, `value`, `description`) VALUES
  ('Hidden', 'DEFAULT', 'init', 'false', 'set to true once the management server has initialised'),
  ('Advanced', 'DEFAULT', 'host', '{ip}', 'The ip address of management server'),
  ('Advanced', 'DEFAULT', 'integration.api.port', NULL, 'Unauthenticated API port (kept off)'),
  ('Advanced', 'DEFAULT', 'secstorage.allowed.internal.sites', NULL, 'Internal sites the SSVM may download from'),
  ('Hidden', 'DEFAULT', 'security.hash.key', NULL, 'for generic key-ed hash');
"""

USAGE_SCHEMA = """
CREATE TABLE `cloud_usage` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `zone_id` bigint unsigned NOT NULL,
  `account_id` bigint unsigned NOT NULL,
  `domain_id` bigint unsigned NOT NULL,
  `description` varchar(1024) NOT NULL,
  `usage_display` varchar(255) NOT NULL,
  `usage_type` int(1) unsigned,
  `raw_usage` double unsigned NOT NULL,
  `start_date` datetime NOT NULL,
  `end_date` datetime NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `usage_job` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `host` varchar(255),
  `pid` int(5),
  `job_type` int(1),
  `start_millis` bigint unsigned NOT NULL DEFAULT 0,
  `end_millis` bigint unsigned NOT NULL DEFAULT 0,
  `exec_time` bigint unsigned NOT NULL DEFAULT 0,
  `success` int(1),
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"""

DB_PROPERTIES_DEFAULT = """# Database settings of the CloudStack management and usage servers (stand-in package default)
cluster.node.IP=127.0.0.1
cluster.servlet.port=9090
region.id=1

db.cloud.username=cloud
db.cloud.password=cloud
db.cloud.host=localhost
db.cloud.port=3306
db.cloud.name=cloud
db.cloud.driver=jdbc:mysql
db.cloud.url.params=prepStmtCacheSize=517&cachePrepStmts=true
db.cloud.maxActive=250
db.cloud.maxIdle=30
db.cloud.maxWait=600000

db.usage.username=cloud
db.usage.password=cloud
db.usage.host=localhost
db.usage.port=3306
db.usage.name=cloud_usage
db.usage.driver=jdbc:mysql
db.usage.maxActive=100
db.usage.maxIdle=30
db.usage.maxWait=600000

db.cloud.encryption.type=none
"""


def ident(name):
    return "`%s`" % name.replace("`", "``")


def parse_user_password(cred, prog):
    parts = cred.split(":")
    if len(parts) not in (1, 2):
        c.apologize("Invalid user name and password format, must be in format of user:password (%s)" %
                    cred.replace(cred.split(":", 1)[-1], "******"), prog)
    user = parts[0]
    if not user:
        c.apologize("Invalid user name and password format, must be in format of user:password, "
                    "user name can not be empty", prog)
    password = parts[1] if len(parts) == 2 else ""
    for f in c.FORBIDDEN:
        if f in user:
            c.apologize("User name cannot have the %r characters" % f, prog)
        if f in password:
            c.apologize("Password cannot have the %r characters" % f, prog)
    return user, password


def parse_host_port(info, prog):
    parts = info.split(":")
    if len(parts) == 1:
        return parts[0], 3306
    if len(parts) == 2:
        try:
            port = int(parts[1])
        except ValueError:
            c.apologize("The database port must be an integer (%s)" % parts[1], prog)
        if port < 1:
            c.apologize("The database port must be a positive integer (%s)" % parts[1], prog)
        return parts[0], port
    c.apologize("Invalid host and port format, it must be in format of host:port (%s)" % info, prog)


def read_properties(path):
    """Ordered (key, value) pairs; comments and blank lines kept as (line, None)."""
    out = []
    with open(path) as f:
        for line in f.read().splitlines():
            s = line.strip()
            if not s or s.startswith("#") or "=" not in s:
                out.append((line, None))
            else:
                k, v = s.split("=", 1)
                out.append((k.strip(), v.strip()))
    return out


def render_properties(pairs):
    return "\n".join(k if v is None else "%s=%s" % (k, v) for k, v in pairs) + "\n"


def put(pairs, key, value):
    for i, (k, v) in enumerate(pairs):
        if v is not None and k == key:
            pairs[i] = (key, value)
            return
    pairs.append((key, value))


def main(prog, default_release):
    rel = c.release(default_release)
    new_style = c.release_tuple(rel) >= (4, 21)

    parser = optparse.OptionParser(usage="%prog user:[password]@mysqlhost:[port] [--deploy-as=rootuser:[rootpassword]] "
                                         "[-e ENCRYPTIONTYPE] [-m MGMTSECRETKEY] [-k DBSECRETKEY] [--debug]",
                                   prog=prog)
    parser.add_option("-v", "--debug", action="store_true", dest="debug", default=False)
    parser.add_option("-d", "--deploy-as", dest="rootcreds", default="")
    parser.add_option("-s", "--schema-only", action="store_true", dest="schemaonly", default=False)
    parser.add_option("-e", "--encrypt-type", dest="encryptiontype", default="file")
    parser.add_option("-m", "--managementserver-secretkey", dest="mgmtsecretkey", default="password")
    parser.add_option("-k", "--database-secretkey", dest="dbsecretkey", default="password")
    parser.add_option("-i", "--mshost", dest="mshostip", default="")
    parser.add_option("-r", "--regionid", dest="regionid", default="1")
    if new_style:
        parser.add_option("--force-recreate", action="store_true", dest="forcerecreate", default=False)
    options, args = parser.parse_args()

    if not args:
        c.apologize("Please specify user:password@hostname", prog)
    if len(args) > 1:
        c.apologize("There are more than one parameters for user:password@hostname", prog)
    arg = args[0]
    at = arg.rfind("@")
    if at < 0:
        creds, hostinfo = arg, "localhost"
    else:
        creds, hostinfo = arg[:at], arg[at + 1:]
    user, password = parse_user_password(creds, prog)
    host, port = parse_host_port(hostinfo, prog)
    c.info("Mysql user name:%s" % user, True)
    c.info("Mysql user password:******", True)
    c.info("Mysql server ip:%s" % host, True)
    c.info("Mysql server port:%s" % port, True)

    rootuser = rootpassword = None
    if options.rootcreds:
        if options.schemaonly:
            c.apologize("--deploy-as cannot be combined with --schema-only", prog)
        rootuser, rootpassword = parse_user_password(options.rootcreds, prog)
        if rootuser == user:
            c.apologize("--deploy-as= user name cannot be the user name supplied for the connection credentials", prog)
        c.info("Mysql root user name:%s" % rootuser, True)
        c.info("Mysql root user password:******", True)
    valid_types = ("file", "web") if rel == "3.0.2" else ("file", "web", "env")
    if options.encryptiontype not in valid_types:
        c.apologize('Wrong encryption type %s, --encrypt-type can only be %s' %
                    (options.encryptiontype, " or ".join('"%s"' % t for t in valid_types)), prog)

    prefix = os.environ.get("CLOUDSTACK_STANDIN_DB_PREFIX", "")
    cloud_db, usage_db = prefix + "cloud", prefix + "cloud_usage"
    confdir = c.under_root(c.conf_dir(rel))
    dbp_path = os.path.join(confdir, "db.properties")
    if not os.path.isfile(dbp_path):
        # Upstream refuses here (the package installs the file); the stand-in lays the package default down.
        c.write_atomic(dbp_path, DB_PROPERTIES_DEFAULT, 0o640)
    c.info("Checking Cloud database files ...", True)
    ip = options.mshostip or c.local_ip()
    c.info("Detected local IP address as %s, will use as cluster management server node IP" % ip, True)
    pairs = read_properties(dbp_path)
    c.info("Preparing %s" % dbp_path, True)

    if rootuser is not None or options.schemaonly:
        if options.schemaonly:
            db = c.Mysql(user, password, host, port)
        else:
            db = c.Mysql(rootuser, rootpassword, host, port)
        status, out, err = db.run("SELECT 1;")
        if status != 0:
            c.apologize("Encountering an error when connecting to the database server %s:%s\n%s" %
                        (host, port, err.strip()), prog)
        status, out, err = db.run(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name IN ('%s', '%s');" % (cloud_db, usage_db))
        existing = sorted(out.split())
        if options.schemaonly:
            missing = sorted(set([cloud_db, usage_db]) - set(existing))
            if missing:
                c.apologize("Database %s must exist for --schema-only (create it and grant %s access first)" %
                            (", ".join(missing), user), prog)
            status, out, err = db.run(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('%s', '%s');" % (cloud_db, usage_db))
            if new_style and not options.forcerecreate and out.strip() not in ("", "0"):
                c.apologize("The databases %s and %s already hold tables; refusing to recreate them. "
                            "Pass --force-recreate to drop and recreate them (all data is lost)." % (cloud_db, usage_db), prog)
        elif existing and new_style and not options.forcerecreate:
            c.apologize("Database %s already exists; refusing to drop it. Pass --force-recreate to drop and "
                        "recreate the databases (all data is lost)." % " and ".join(existing), prog)

        sql = []
        if options.schemaonly:
            for d in (cloud_db, usage_db):
                sql.append("USE %s;" % ident(d))
                sql.append("SET FOREIGN_KEY_CHECKS=0;")
                sql.append("DROP TABLE IF EXISTS `version`, `configuration`, `user`, `vm_template`, `cloud_usage`, `usage_job`;")
        else:
            for d in (cloud_db, usage_db):
                sql.append("DROP DATABASE IF EXISTS %s;" % ident(d))
            for h in ("localhost", "%"):
                sql.append("DROP USER IF EXISTS '%s'@'%s';" % (user, h))
            for d in (cloud_db, usage_db):
                sql.append("CREATE DATABASE %s;" % ident(d))
            for h in ("localhost", "%"):
                sql.append("CREATE USER '%s'@'%s' IDENTIFIED BY '%s';" % (user, h, password))
                for d in (cloud_db, usage_db):
                    sql.append("GRANT ALL ON %s.* TO '%s'@'%s';" % (ident(d), user, h))
                sql.append("GRANT PROCESS ON *.* TO '%s'@'%s';" % (user, h))
        sql.append("USE %s;" % ident(cloud_db))
        sql.append(CLOUD_SCHEMA.replace("{release}", rel if rel != "3.0.2" else "3.0.2").replace("{ip}", ip))
        sql.append("USE %s;" % ident(usage_db))
        sql.append(USAGE_SCHEMA)
        c.info("Applying create-database.sql, create-schema.sql, templates.sql")
        status, out, err = db.run("\n".join(sql))
        if status != 0:
            c.info("", False)
            c.apologize("Encountering an error when executing mysql script\n%s" % err.strip(), prog)
        c.info("", True)
    else:
        c.info("No mysql root user specified, will not create Cloud DB schema", True)
        status, out, err = c.Mysql(user, password, host, port).run("SELECT count(*) FROM %s.`version`;" % ident(cloud_db))
        if status != 0:
            c.apologize("The connection credentials you specified are not valid (%s)" % err.strip(), prog)

    c.info("Processing encryption ...")
    key = options.mgmtsecretkey
    put(pairs, "cluster.node.IP", ip)
    put(pairs, "region.id", options.regionid)
    for side, name in (("cloud", cloud_db), ("usage", usage_db)):
        put(pairs, "db.%s.username" % side, user)
        put(pairs, "db.%s.password" % side, c.encode(password, key) if password else "")
        put(pairs, "db.%s.host" % side, host)
        put(pairs, "db.%s.port" % side, str(port))
        put(pairs, "db.%s.name" % side, name)
    put(pairs, "db.cloud.encryption.type", options.encryptiontype)
    put(pairs, "db.cloud.encryption.scheme", c.SCHEME)
    put(pairs, "db.cloud.encrypt.secret", c.encode(options.dbsecretkey, key))
    if options.encryptiontype == "file":
        keyfile = os.path.join(confdir, "key")
        c.write_atomic(keyfile, key, 0o640)
        try:
            import grp
            os.chown(keyfile, -1, grp.getgrnam("cloud").gr_gid)
        except (KeyError, PermissionError):
            pass
    c.info("", True)
    c.info("Finalizing setup ...")
    c.write_atomic(dbp_path, render_properties(pairs), 0o640)
    c.info("", True)
    print("")
    print("CloudStack has successfully initialized database, you can check your database configuration in %s" % dbp_path)
    print("")
    return 0
