//! `profile::Resolved`: a profile is read once and resolved into typed values (address and prefix, the
//! platform and release rows, the secrets); what cannot be resolved is refused with the file and key.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use cloudstrap::platform::PlatformId;
use cloudstrap::profile::{ResolveError, Resolved};

fn write(dir: &Path, platform: Option<&str>) -> PathBuf {
    let platform = platform.map(|p| format!("platform = \"{p}\"\n")).unwrap_or_default();
    let text = format!(
        "[cloudstack]\nrelease = \"4.22\"\n\n[host]\nroles = [\"management\"]\n{platform}hostname = \"cloud\"\n\
         fqdn = \"cloud.example.org\"\naddress = \"192.168.10.10/24\"\ngateway = \"192.168.10.1\"\n\n\
         [database]\nhost = \"192.168.10.11\"\nroot-password-file = \"root.pw\"\ncloud-password-file = \"cloud.pw\"\n\n\
         [nfs]\nserver = \"192.168.10.12\"\nclients = \"192.168.10.0/24\"\n"
    );
    let path = dir.join("p.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn secret_file(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for (name, value) in [("root.pw", "Resolved-Root-7\n"), ("cloud.pw", "Resolved-Cloud-8\n")] {
        let f = dir.join(name);
        std::fs::write(&f, value).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn resolved_once_into_typed_values_without_asking_the_host_when_the_profile_names_its_platform() {
    let dir = tempfile::tempdir().unwrap();
    secret_file(dir.path());
    let path = write(dir.path(), Some("el9"));
    let asked = Cell::new(false);
    let r = Resolved::load(&path, || {
        asked.set(true);
        Ok(PlatformId::Debian12)
    })
    .unwrap();
    assert!(!asked.get(), "host.platform given: the host is not asked");
    assert_eq!((r.address.to_string(), r.prefix), ("192.168.10.10".to_string(), 24));
    assert_eq!((r.platform.id, r.release.line), (PlatformId::El9, "4.22"));
    assert_eq!(r.secrets.db_root.as_ref().map(|s| s.expose().to_string()).as_deref(), Some("Resolved-Root-7"));
    assert_eq!(r.dir, dir.path());
}

#[test]
fn a_platform_not_given_is_detected_and_a_failed_detection_is_located() {
    let dir = tempfile::tempdir().unwrap();
    secret_file(dir.path());
    let path = write(dir.path(), None);
    assert_eq!(Resolved::load(&path, || Ok(PlatformId::Ubuntu2404)).unwrap().platform.id, PlatformId::Ubuntu2404);
    let e = Resolved::load(&path, || Err("this host runs something else".into())).unwrap_err();
    assert!(matches!(e, ResolveError::Platform(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{}:", path.display())) && msg.contains("host.platform: is not given and this host runs something else"), "{msg}");
}

#[test]
fn unreadable_secrets_refuse_the_plan_but_not_the_review() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), Some("el9"));
    let e = Resolved::load(&path, || unreachable!()).unwrap_err();
    assert!(matches!(e, ResolveError::Secrets(_)) && e.to_string().contains("root.pw"), "{e}");
    let profile = cloudstrap::profile::load(&path).unwrap();
    let review = Resolved::without_secrets(profile, &path, || unreachable!()).unwrap();
    assert!(review.secrets.db_root.is_none());
    secret_file(dir.path());
    assert!(review.with_secrets().unwrap().secrets.db_root.is_some());
}
