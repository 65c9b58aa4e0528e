//! The profile (v1): the TOML an operator writes for an unattended install, or the guided install saves.
//! Keys are kebab-case, unknown keys are rejected, and defaults follow the upstream install guide.
//! A secret is given inline (`x`), from a file (`x-file`) or from an environment variable (`x-env`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    /// Profile format version; only 1 exists.
    #[serde(default = "one")]
    pub version: u32,
    pub cloudstack: CloudStack,
    pub host: Host,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfs: Option<Nfs>,
    #[serde(default)]
    pub ntp: Ntp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management: Option<Management>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<Zone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<Disk>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<Fleet>,
    /// Where this profile was read from, to place later errors (e.g. an unreadable `*-file`) at their line.
    /// Not part of the file, and ignored when comparing profiles.
    #[serde(skip)]
    #[schemars(skip)]
    pub origin: Option<super::Origin>,
}

fn one() -> u32 {
    1
}

/// CloudStack release line and where its packages come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CloudStack {
    /// Release line: "3.0.2", "4.19", "4.20", "4.21" or "4.22".
    pub release: String,
    /// Package repository URL (yum baseurl or apt URL). Default: download.cloudstack.org for platform and release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// A local mirror (absolute path or file:// URL) for an offline install; replaces `repository`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<String>,
    /// URL or path of the repository signing key. Default: the release key of the default repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpg_key: Option<String>,
    /// Allow plain http:// for the repository and the template (default false: https only).
    #[serde(default)]
    pub allow_http: bool,
}

pub use crate::platform::Role;

/// This host: its roles and its network identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Host {
    pub roles: Vec<Role>,
    /// Platform the profile is written for ("el6", "el8", "el9", "ubuntu-22.04", "ubuntu-24.04", "debian-12").
    /// Default: detected from the host. When given, preflight checks that the host matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Short host name, e.g. "cloud-server".
    pub hostname: String,
    /// Fully qualified name, e.g. "cloud-server.squirrel.org"; must contain a domain.
    pub fqdn: String,
    /// Static address with prefix length, e.g. "192.168.1.4/24".
    pub address: String,
    pub gateway: String,
    #[serde(default)]
    pub dns: Vec<String>,
    /// Network interface that carries the address (default: detected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// MAC address of that interface, e.g. "52:54:00:12:34:56": the installer medium picks this profile on
    /// the machine that has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl Host {
    /// The host's address without its prefix ("192.168.1.4" of "192.168.1.4/24"); `Resolved` holds it typed.
    pub fn ip(&self) -> &str {
        self.address.split('/').next().unwrap_or(&self.address)
    }
}

/// The CloudStack database (MySQL 8 or MariaDB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Database {
    /// Database server address; "localhost" when this host has the database role.
    #[serde(default = "localhost")]
    pub host: String,
    #[serde(default = "mysql_port")]
    #[schemars(range(min = 1))]
    pub port: u16,
    /// Server flavour to install for the database role: "mysql" or "mariadb" (default: the platform's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_env: Option<String>,
    #[serde(default = "cloud_user")]
    pub cloud_user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_password_env: Option<String>,
    /// `cloudstack-setup-databases -m`: the management server key (default: generated and kept 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_key_env: Option<String>,
    /// `cloudstack-setup-databases -k`: the database encryption key (default: generated and kept 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_key_env: Option<String>,
    /// `max_connections` (350 per management server).
    #[serde(default = "max_connections")]
    #[schemars(range(min = 1))]
    pub max_connections: u32,
    /// `server_id`, an integer.
    #[serde(default = "one")]
    #[schemars(range(min = 1))]
    pub server_id: u32,
}

fn localhost() -> String {
    "localhost".into()
}
fn mysql_port() -> u16 {
    3306
}
fn cloud_user() -> String {
    "cloud".into()
}
fn max_connections() -> u32 {
    350
}

/// NFS primary and secondary storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Nfs {
    /// NFS server address (this host's address when it has the nfs role).
    pub server: String,
    #[serde(default = "primary_path")]
    pub primary: String,
    #[serde(default = "secondary_path")]
    pub secondary: String,
    /// Client network allowed to mount the exports, e.g. "192.168.1.0/24".
    pub clients: String,
    /// NFSv4 idmapd Domain (default: the domain of host.fqdn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idmap_domain: Option<String>,
    /// Where the management role mounts secondary storage to seed the template (default /mnt/secondary).
    #[serde(default = "secondary_mount")]
    pub secondary_mount: String,
}

fn primary_path() -> String {
    "/export/primary".into()
}
fn secondary_path() -> String {
    "/export/secondary".into()
}
fn secondary_mount() -> String {
    "/mnt/secondary".into()
}

/// Time service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Ntp {
    #[serde(default = "ntp_servers")]
    pub servers: Vec<String>,
}

impl Default for Ntp {
    fn default() -> Self {
        Ntp { servers: ntp_servers() }
    }
}

fn ntp_servers() -> Vec<String> {
    (0..4).map(|i| format!("{i}.pool.ntp.org")).collect()
}

/// The system VM template to seed into secondary storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Template {
    /// Template URL (default: the release's KVM template), or a file on this host (file:///PATH or /PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// "md5:HEX", "sha256:HEX" or "sha512:HEX" of the compressed file (default: the release's checksum file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// Template id in secondary storage (default: looked up in the cloud database as upstream does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub id: Option<u32>,
}

/// The management server, as seen by API clients and agents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Management {
    /// API endpoint, e.g. "http://192.168.1.4:8080/client/api" (default: this host's address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Address agents connect to on port 8250 (default: the endpoint's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The admin password to set in place of the default "password".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_password_env: Option<String>,
    /// API key and secret for `cloudstrap api` and `zone deploy` (default: the keys the hand-off created).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_env: Option<String>,
    /// Serve the UI and API over HTTPS as well (`cloudstack-setup-management --https`).
    #[serde(default)]
    pub https: bool,
    /// How long cloudstrap waits for the answer to one API call, in seconds.
    #[serde(default, skip_serializing_if = "ApiTimeouts::is_default")]
    pub timeouts: ApiTimeouts,
}

/// Longest waits for one API answer, in seconds. The management server does slow work inside a few calls
/// before it answers, so those get their own (much longer) limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApiTimeouts {
    /// Any call not named below.
    #[serde(default = "ApiTimeouts::default_request")]
    pub request: u64,
    /// addHost: the server logs in to the host over SSH, runs cloudstack-setup-agent there and waits for the
    /// agent's first connection (it polls every 30 s).
    #[serde(default = "ApiTimeouts::default_add_host")]
    pub add_host: u64,
    /// addImageStore: the zone's first NFS store is mounted and the system VM template copied into it.
    #[serde(default = "ApiTimeouts::default_add_image_store")]
    pub add_image_store: u64,
    /// createStoragePool: the pool is mounted on the cluster's hosts.
    #[serde(default = "ApiTimeouts::default_create_storage_pool")]
    pub create_storage_pool: u64,
}

impl ApiTimeouts {
    fn default_request() -> u64 {
        60
    }
    fn default_add_host() -> u64 {
        900
    }
    fn default_add_image_store() -> u64 {
        1800
    }
    fn default_create_storage_pool() -> u64 {
        600
    }
    pub fn is_default(&self) -> bool {
        *self == ApiTimeouts::default()
    }
    /// The limit of each slow command by its API name.
    pub fn slow_calls(&self) -> [(&'static str, u64); 3] {
        [("addHost", self.add_host), ("addImageStore", self.add_image_store), ("createStoragePool", self.create_storage_pool)]
    }
}

impl Default for ApiTimeouts {
    fn default() -> Self {
        ApiTimeouts {
            request: Self::default_request(),
            add_host: Self::default_add_host(),
            add_image_store: Self::default_add_image_store(),
            create_storage_pool: Self::default_create_storage_pool(),
        }
    }
}

/// Installing onto a disk of a blank machine (`cloudstrap disk install`, run by the installer medium).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Disk {
    /// The disk to install on: a device path ("/dev/vda", "/dev/disk/by-id/..."), "serial:SERIAL", or
    /// "smallest" / "largest" (among the machine's fixed disks that are large enough and not the medium).
    pub device: String,
    /// Whether the disk may be wiped when it holds partitions or file systems. No default: without
    /// `wipe = true` such a disk is only wiped after the operator typed its name at the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe: Option<bool>,
    /// A separate file system for /export (the NFS role's storage), e.g. "200G"; default: /export on the
    /// root file system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_size: Option<String>,
    /// The installed system's root password (default: agent.root-password, else the password of this
    /// host's `zone.hosts` entry, which addHost logs in with; with none, root logs in by key only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_env: Option<String>,
    /// Public keys that may log in as root on the installed system (lines of authorized_keys).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
}

/// How the provisioning network gets its addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FleetDhcp {
    /// This node's dnsmasq gives each listed MAC its address (and nobody else anything).
    #[default]
    Server,
    /// Another DHCP server gives the addresses; this node only adds the network boot (proxy-DHCP).
    Proxy,
}

/// The hosts this node (role `provisioning`) installs over the network, and the network they boot from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Fleet {
    /// This node's interface on the provisioning network (DHCP, TFTP and HTTP answer there only).
    pub interface: String,
    /// The provisioning network, e.g. "192.168.1.0/24"; every host's address is inside it.
    pub subnet: String,
    /// "server" (default) or "proxy" when another DHCP server already serves that network.
    #[serde(default)]
    pub dhcp: FleetDhcp,
    /// The installer ISO (`cloudstrap media build`) the hosts boot and install from.
    #[serde(default = "fleet_media")]
    pub media: String,
    /// Port of the provisioning HTTP server (nginx) on this node's address.
    #[serde(default = "fleet_http_port")]
    #[schemars(range(min = 1))]
    pub http_port: u16,
    /// The installed hosts' root password (addHost logs in with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_env: Option<String>,
    /// What every host takes unless its entry says otherwise.
    #[serde(default)]
    pub defaults: FleetDefaults,
    #[serde(default)]
    pub hosts: Vec<FleetHost>,
}

/// Where the provisioning role looks for the installer ISO by default.
pub const FLEET_MEDIA: &str = "/var/lib/cloudstrap/cloudstrap.iso";

/// The provisioning HTTP server's document root (what hosts fetch) and the TFTP root (the iPXE loaders).
pub const FLEET_WWW: &str = "/srv/cloudstrap/fleet";
pub const FLEET_TFTP: &str = "/srv/cloudstrap/tftp";
/// nginx's access log of the provisioning server: what `fleet status` reads requests from.
pub const FLEET_ACCESS_LOG: &str = "/var/log/nginx/cloudstrap-fleet.log";
/// The iPXE loaders' names in the TFTP root (dnsmasq's proxy `pxe-service` appends ".0" for BIOS).
pub const FLEET_BIOS_LOADER: &str = "ipxe-bios.0";
pub const FLEET_EFI_LOADER: &str = "ipxe-x64.efi";

/// The provisioning server's URL paths, relative to its root (the node publishes them, the installer asks
/// for them): `HOSTS/<mac>/PROFILE`, `SECRETS/<mac>/<file name>`, `STATE/<mac>/INSTALLED`.
pub mod fleet_tree {
    pub const HOSTS: &str = "hosts";
    pub const SECRETS: &str = "secrets";
    pub const STATE: &str = "state";
    pub const PROFILE: &str = "profile.toml";
    pub const INSTALLED: &str = "installed";
}

impl FleetHost {
    /// The MAC as the fleet's URLs spell it: lowercase, hyphens (iPXE's `${mac:hexhyp}`).
    pub fn mac_path(&self) -> String {
        mac_path(&self.mac)
    }
}

/// "52:54:00:AA:BB:01" -> "52-54-00-aa-bb-01".
pub fn mac_path(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace(':', "-")
}

fn fleet_media() -> String {
    FLEET_MEDIA.into()
}
fn fleet_http_port() -> u16 {
    8090
}

/// Settings shared by the fleet's hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FleetDefaults {
    /// Roles of an installed host (default: kvm-agent).
    #[serde(default = "kvm_agent_role")]
    pub roles: Vec<Role>,
    /// The installed system's interface name (e.g. "ens3", "eno1").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Which disk to install on, as disk.device (default "largest").
    #[serde(default = "largest")]
    pub disk: String,
    /// As disk.wipe: whether a disk holding data may be wiped (absent: such a disk is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe: Option<bool>,
    /// As disk.ssh-keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<String>,
}

impl Default for FleetDefaults {
    fn default() -> Self {
        FleetDefaults { roles: kvm_agent_role(), interface: None, disk: largest(), wipe: None, ssh_keys: vec![] }
    }
}

fn kvm_agent_role() -> Vec<Role> {
    vec![Role::KvmAgent]
}
fn largest() -> String {
    "largest".into()
}

/// One host of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FleetHost {
    /// Short host name; its FQDN takes this node's domain.
    pub name: String,
    /// MAC address of the interface it boots from.
    pub mac: String,
    /// Its static address, inside fleet.subnet (the prefix is the subnet's).
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wipe: Option<bool>,
}

/// The KVM agent on this host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Agent {
    /// Management bridge carrying the host address.
    #[serde(default = "cloudbr0")]
    pub private_bridge: String,
    /// Guest traffic bridge.
    #[serde(default = "cloudbr1")]
    pub guest_bridge: String,
    /// Public traffic bridge (default: the guest bridge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_bridge: Option<String>,
    /// Write bridge configuration (cloudbr0/cloudbr1) for the host network; off by default because
    /// changing the network of a remote host can cut the installer off.
    #[serde(default)]
    pub configure_bridges: bool,
    /// Register this host with the management server (`addHost`) once the agent runs.
    #[serde(default)]
    pub register: bool,
    /// Zone, pod and cluster to register in, by name (default: the profile's [zone], else the only one
    /// the management server has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Root password the management server uses to SSH into this host during addHost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_password_env: Option<String>,
}

fn cloudbr0() -> String {
    "cloudbr0".into()
}
fn cloudbr1() -> String {
    "cloudbr1".into()
}

/// Zone type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneType {
    Basic,
    Advanced,
}

/// The guest CIDR the management server gives an advanced zone created without one.
pub const DEFAULT_GUEST_CIDR: &str = "10.1.1.0/24";

/// A zone to deploy through the API once the management server answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Zone {
    pub name: String,
    #[serde(rename = "type")]
    pub zone_type: ZoneType,
    /// Public DNS servers for guests.
    pub dns: Vec<String>,
    /// DNS servers for system VMs.
    pub internal_dns: Vec<String>,
    /// Guest CIDR of an advanced zone (default 10.1.1.0/24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_cidr: Option<String>,
    /// VLAN range for guest networks of an advanced zone, e.g. "100-200".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_range: Option<String>,
    pub pod: Pod,
    /// Basic zone: guest addresses in the pod's network. Advanced zone: the public addresses, unless
    /// `[zone.public]` gives them.
    pub guest: IpRange,
    /// Advanced zone: the public range (VLAN optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<IpRange>,
    pub cluster: Cluster,
    /// KVM hosts to add (addresses of kvm-agent hosts).
    #[serde(default)]
    pub hosts: Vec<ZoneHost>,
    /// Primary storage pools (default: the profile's NFS primary export).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary: Vec<Storage>,
    /// Secondary storage (default: the profile's NFS secondary export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary: Option<Storage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Pod {
    pub name: String,
    pub gateway: String,
    pub netmask: String,
    /// First and last address reserved for system VMs in this pod.
    pub start_ip: String,
    pub end_ip: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IpRange {
    pub gateway: String,
    pub netmask: String,
    pub start_ip: String,
    pub end_ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cluster {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ZoneHost {
    /// Host address (as in addHost url=http://ADDRESS).
    pub address: String,
    #[serde(default = "root_user")]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
}

fn root_user() -> String {
    "root".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Storage {
    pub name: String,
    /// "nfs://SERVER/PATH".
    pub url: String,
}

/// Sections with every key at its documented default, for code that builds a profile (the guided install).
impl Default for Database {
    fn default() -> Self {
        Database {
            host: localhost(),
            port: mysql_port(),
            server: None,
            root_password: None,
            root_password_file: None,
            root_password_env: None,
            cloud_user: cloud_user(),
            cloud_password: None,
            cloud_password_file: None,
            cloud_password_env: None,
            management_key: None,
            management_key_file: None,
            management_key_env: None,
            database_key: None,
            database_key_file: None,
            database_key_env: None,
            max_connections: max_connections(),
            server_id: one(),
        }
    }
}

impl Nfs {
    pub fn new(server: impl Into<String>, clients: impl Into<String>) -> Nfs {
        Nfs {
            server: server.into(),
            primary: primary_path(),
            secondary: secondary_path(),
            clients: clients.into(),
            idmap_domain: None,
            secondary_mount: secondary_mount(),
        }
    }
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            private_bridge: cloudbr0(),
            guest_bridge: cloudbr1(),
            public_bridge: None,
            configure_bridges: false,
            register: false,
            zone: None,
            pod: None,
            cluster: None,
            root_password: None,
            root_password_file: None,
            root_password_env: None,
        }
    }
}

impl ZoneHost {
    pub fn new(address: impl Into<String>) -> ZoneHost {
        ZoneHost { address: address.into(), username: root_user(), password: None, password_file: None, password_env: None }
    }
}
