//! Each fleet host's answers: its profile, derived from the node's profile (`agent.register = true`, the
//! management endpoint, the zone, the node's network settings, its disk) with its secrets named as files
//! beside it, and the secret values those files hold.

use crate::profile::{Agent, CloudStack, Disk, FleetHost, Host, Management, Profile, Secret};

use super::FleetError;

/// The secret files a host's profile names, relative to the profile.
pub const ROOT_PASSWORD_FILE: &str = "secrets/root-password";
pub const API_SECRET_FILE: &str = "secrets/api-secret-key";

/// What one host gets.
#[derive(Debug, Clone)]
pub struct Answer {
    pub host: FleetHost,
    /// The profile's text (no secret in it).
    pub profile: String,
    /// (file name under the host's secrets, value): the files the profile names.
    pub secrets: Vec<(String, Secret)>,
}

/// What the node contributes beyond its profile.
pub struct NodeSecrets {
    pub api_key: String,
    pub api_secret: Secret,
    pub root_password: Secret,
    /// The platform the installer medium installs (its build record), e.g. "debian-12".
    pub platform: String,
}

/// The answers of every host of the node's [fleet].
pub fn all(node: &Profile, s: &NodeSecrets) -> Result<Vec<Answer>, FleetError> {
    let f = node.fleet.as_ref().ok_or_else(|| FleetError::Input("the profile has no [fleet] section".into()))?;
    f.hosts.iter().map(|h| one(node, h, s)).collect()
}

fn one(node: &Profile, h: &FleetHost, s: &NodeSecrets) -> Result<Answer, FleetError> {
    let f = node.fleet.as_ref().expect("checked by the caller");
    let d = &f.defaults;
    let domain = node.domain().ok_or_else(|| FleetError::Input("host.fqdn has no domain for the fleet's hosts".into()))?;
    let prefix = f.subnet.split_once('/').map(|(_, p)| p).ok_or_else(|| FleetError::Input(format!("fleet.subnet {:?} has no prefix length", f.subnet)))?;
    let endpoint = crate::cloudstack::credentials::profile_endpoint(node);
    let mgmt_host = node.management.as_ref().and_then(|m| m.host.clone()).unwrap_or_else(|| node.host.ip().to_string());
    let zone = node.zone.as_ref();
    let p = Profile {
        version: 1,
        // A medium made by cloudstrap carries the CloudStack repository; its installer points the profile at
        // the copy on the host's disk.
        cloudstack: CloudStack { release: node.cloudstack.release.clone(), repository: None, mirror: None, gpg_key: None, allow_http: node.cloudstack.allow_http },
        host: Host {
            roles: h.roles.clone().unwrap_or_else(|| d.roles.clone()),
            platform: Some(s.platform.clone()),
            hostname: h.name.clone(),
            fqdn: format!("{}.{domain}", h.name),
            address: format!("{}/{prefix}", h.address),
            gateway: node.host.gateway.clone(),
            dns: node.host.dns.clone(),
            interface: h.interface.clone().or_else(|| d.interface.clone()),
            mac: Some(h.mac.to_ascii_lowercase()),
        },
        database: None,
        nfs: node.nfs.clone(),
        ntp: node.ntp.clone(),
        template: None,
        management: Some(Management {
            endpoint: Some(endpoint),
            host: Some(mgmt_host),
            api_key: Some(s.api_key.clone()),
            secret_key_file: Some(API_SECRET_FILE.into()),
            timeouts: node.management.as_ref().map(|m| m.timeouts.clone()).unwrap_or_default(),
            ..Management::default()
        }),
        agent: Some(Agent {
            register: true,
            zone: zone.map(|z| z.name.clone()),
            pod: zone.map(|z| z.pod.name.clone()),
            cluster: zone.map(|z| z.cluster.name.clone()),
            root_password_file: Some(ROOT_PASSWORD_FILE.into()),
            ..node.agent.clone().map(|a| Agent { register: true, root_password: None, root_password_file: None, root_password_env: None, ..a }).unwrap_or_default()
        }),
        zone: None,
        disk: Some(Disk {
            device: h.disk.clone().unwrap_or_else(|| d.disk.clone()),
            wipe: h.wipe.or(d.wipe),
            ssh_keys: d.ssh_keys.clone(),
            ..Disk::default()
        }),
        fleet: None,
        origin: None,
    };
    let problems = crate::profile::validate(&p);
    if let Some(first) = problems.first() {
        return Err(FleetError::Input(format!("fleet host {}: its derived profile is not valid: {}: {}", h.name, first.path, first.message)));
    }
    let body = toml::to_string(&p).map_err(|e| FleetError::Failed(format!("fleet host {}: {e}", h.name)))?;
    let profile = format!(
        "# cloudstrap fleet: {}'s profile, derived from the management node's [fleet]. Its secrets are the files it\n# names, fetched once by this host from its own address.\n{body}",
        h.name
    );
    let secrets = vec![
        (file_name(ROOT_PASSWORD_FILE), s.root_password.clone()),
        (file_name(API_SECRET_FILE), s.api_secret.clone()),
    ];
    Ok(Answer { host: h.clone(), profile, secrets })
}

fn file_name(rel: &str) -> String {
    rel.rsplit('/').next().unwrap_or(rel).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = r#"
[cloudstack]
release = "4.22"
allow-http = true
[host]
roles = ["management", "database", "nfs", "provisioning"]
hostname = "cloud-server"
fqdn = "cloud-server.squirrel.org"
address = "192.168.1.4/24"
gateway = "192.168.1.1"
dns = ["192.168.1.1"]
[database]
root-password = "rootpw-1"
cloud-password = "cloudpw-1"
[nfs]
server = "192.168.1.4"
clients = "192.168.1.0/24"
[zone]
name = "squirrel"
type = "basic"
dns = ["192.168.1.1"]
internal-dns = ["192.168.1.1"]
pod = { name = "p1", gateway = "192.168.1.1", netmask = "255.255.255.0", start-ip = "192.168.1.100", end-ip = "192.168.1.120" }
guest = { gateway = "192.168.1.1", netmask = "255.255.255.0", start-ip = "192.168.1.150", end-ip = "192.168.1.199" }
cluster = { name = "c1" }
[fleet]
interface = "eth0"
subnet = "192.168.1.0/24"
root-password = "fleet-root-1"
defaults = { interface = "ens3", disk = "serial:target0" }
hosts = [{ name = "kvm1", mac = "52:54:00:AA:BB:01", address = "192.168.1.21" }]
"#;

    #[test]
    fn a_hosts_profile_registers_it_in_the_zone_and_holds_no_secret() {
        let node: Profile = toml::from_str(NODE).unwrap();
        assert!(crate::profile::validate(&node).is_empty(), "{:?}", crate::profile::validate(&node));
        let s = NodeSecrets { api_key: "KEY-1".into(), api_secret: Secret::new("API-SECRET-1"), root_password: Secret::new("fleet-root-1"), platform: "debian-12".into() };
        let a = all(&node, &s).unwrap();
        assert_eq!(a.len(), 1);
        let t = &a[0].profile;
        let p: Profile = toml::from_str(t).unwrap();
        assert_eq!(p.host.fqdn, "kvm1.squirrel.org");
        assert_eq!(p.host.address, "192.168.1.21/24");
        assert_eq!(p.host.interface.as_deref(), Some("ens3"));
        assert_eq!(p.host.mac.as_deref(), Some("52:54:00:aa:bb:01"));
        assert_eq!(p.host.roles, [crate::profile::Role::KvmAgent]);
        let agent = p.agent.unwrap();
        assert!(agent.register);
        assert_eq!((agent.zone.as_deref(), agent.pod.as_deref(), agent.cluster.as_deref()), (Some("squirrel"), Some("p1"), Some("c1")));
        assert_eq!(agent.root_password_file.as_deref(), Some(std::path::Path::new(ROOT_PASSWORD_FILE)));
        let m = p.management.unwrap();
        assert_eq!(m.endpoint.as_deref(), Some("http://192.168.1.4:8080/client/api"));
        assert_eq!(m.api_key.as_deref(), Some("KEY-1"));
        assert_eq!(p.disk.unwrap().device, "serial:target0");
        for secret in ["API-SECRET-1", "fleet-root-1", "rootpw-1", "cloudpw-1"] {
            assert!(!t.contains(secret), "{secret} in {t}");
        }
        assert_eq!(a[0].secrets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["root-password", "api-secret-key"]);
    }
}
