//! Plans for the shipped profiles: the steps each role needs, in an order that works, with the template
//! download independent of every package install, platform names from the platform table (EL6's SysV and
//! 3.0.2's `cloud-*` commands), no runtime steps in an image root, and no secret in any description; the
//! hand-off last; and the golden plans of every platform x role. No test here reads the environment.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cloudstrap::host::Site;
use cloudstrap::install::{prepare, Prepared};

fn global(root: &str) -> Site {
    Site::at(root)
}

fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles").join(name)
}

/// The secrets the shipped profiles name by environment variable, given inline instead (no test touches
/// the process environment).
const SECRETS: [(&str, &str); 9] = [
    ("CLOUDSTRAP_DB_ROOT_PASSWORD", "PlanRoot-1x"),
    ("CLOUDSTRAP_DB_CLOUD_PASSWORD", "PlanCloud-2y"),
    ("CLOUDSTRAP_ADMIN_PASSWORD", "PlanAdmin-3z"),
    ("CLOUDSTRAP_HOST_ROOT_PASSWORD", "PlanHost-4w"),
    ("CLOUDSTRAP_KVM_ROOT_PASSWORD", "PlanKvm-9r"),
    ("SQUIRREL_DB_ROOT_PASSWORD", "SqRoot-5v"),
    ("SQUIRREL_DB_CLOUD_PASSWORD", "SqCloud-6u"),
    ("SQUIRREL_ADMIN_PASSWORD", "SqAdmin-7t"),
    ("SQUIRREL_AGENT_ROOT_PASSWORD", "SqAgent-8s"),
];

/// A 0600 copy of a shipped profile with `edits` applied and its secrets inline.
fn shipped(name: &str, edits: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let mut text = std::fs::read_to_string(profile(name)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{name}: no {from:?}");
        text = text.replacen(from, to, 1);
    }
    for (var, value) in SECRETS {
        text = text.replace(&format!("-env = \"{var}\""), &format!(" = \"{value}\""));
    }
    assert!(!text.contains("password-env"), "{name}: a secret left to the environment");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    (dir, path)
}

fn ids(p: &Prepared) -> Vec<String> {
    let v: Vec<String> = p.plan.steps.iter().map(|s| s.action.id()).collect();
    let unique: BTreeSet<&String> = v.iter().collect();
    assert_eq!(unique.len(), v.len(), "step ids must be unique (the receipt is keyed by them): {v:#?}");
    v
}

fn index(p: &Prepared, prefix: &str) -> usize {
    ids(p).iter().position(|i| i.starts_with(prefix)).unwrap_or_else(|| panic!("no step {prefix} in {:#?}", ids(p)))
}

/// Every step `i` waits for, directly or not.
fn ancestors(p: &Prepared, i: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut todo = p.plan.steps[i].after.clone();
    while let Some(d) = todo.pop() {
        if seen.insert(d) {
            todo.extend(p.plan.steps[d].after.iter().copied());
        }
    }
    seen
}

#[test]
fn all_in_one_on_a_live_el9_host() {
    let (dir, path) = shipped("all-in-one.toml", &[("[host]\n", "[host]\nplatform = \"el9\"\n")]);
    let p = prepare(&path, &global("/")).unwrap();
    assert!(p.ctx.live);
    for want in [
        "selinux",
        "firewall:",
        "db-admin-login:root",
        "db-user:cloud",
        "setup:cloudstack-setup-databases",
        "db-user:cloud:after-setup",
        "setup:cloudstack-setup-management",
        "wait:http://127.0.0.1:8080/client/api",
        "cloudstack:handoff",
        "template:3",
        "template-row:3",
        "exportfs",
        "mask:libvirtd.socket",
        "service:libvirtd",
        "repo:cloudstack",
    ] {
        index(&p, want);
    }
    // 4.22 bundles the template in the management package: the seed waits for that package and says it
    // copies the bundled file; its database row waits for setup-databases.
    let seed = index(&p, "template:3");
    let mgmt_pkgs = index(&p, "packages:nfs-utils,cloudstack-management");
    assert!(ancestors(&p, seed).contains(&mgmt_pkgs), "the seed must wait for the package that bundles the template");
    let d = p.plan.steps[seed].action.describe();
    assert!(d.contains("bundled in /usr/share/cloudstack-management/templates/systemvm (else https://download.cloudstack.org/systemvm/4.22/"), "{d}");
    assert!(ancestors(&p, index(&p, "template-row:3")).contains(&index(&p, "setup:cloudstack-setup-databases")));

    // 4.19 bundles nothing, and an explicit template.url is the operator's choice: the download then waits
    // for no package install.
    for (from, to) in [("release = \"4.22\"", "release = \"4.19\""), ("[host]\n", "[template]\nurl = \"https://mirror.lan/t.qcow2.bz2\"\n\n[host]\n")] {
        let text = std::fs::read_to_string(&path).unwrap().replace(from, to);
        let path2 = dir.path().join("aio2.toml");
        std::fs::write(&path2, text).unwrap();
        std::fs::set_permissions(&path2, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let p2 = prepare(&path2, &global("/")).unwrap();
        let seed = index(&p2, "template:3");
        assert!(ancestors(&p2, seed).iter().all(|&a| !ids(&p2)[a].starts_with("packages:")), "{to}: the download waits for packages");
        assert!(!p2.plan.steps[seed].action.describe().contains("bundled"));
    }
    // setup-databases comes after the database answers with root's password and the management packages.
    let sdb = ancestors(&p, index(&p, "setup:cloudstack-setup-databases"));
    assert!(sdb.contains(&index(&p, "db-admin-login:root")) && sdb.contains(&index(&p, "packages:nfs-utils,cloudstack-management")));
    // The rendered files are in the plan.
    index(&p, "file:/etc/my.cnf.d/cloudstack.cnf");
    index(&p, "file:/etc/libvirt/libvirtd.conf");
    // No secret in a description.
    let all: String = p.plan.steps.iter().map(|s| s.action.describe()).collect::<Vec<_>>().join("\n");
    for s in ["PlanRoot-1x", "PlanCloud-2y", "PlanAdmin-3z"] {
        assert!(!all.contains(s), "{all}");
    }
    assert!(all.contains("cloudstack-setup-databases ******** --deploy-as") || all.contains("cloudstack-setup-databases ******** ********"), "{all}");
}

#[test]
fn the_seed_article_server_on_el6_uses_sysv_and_cloud_commands() {
    let (_dir, path) = shipped("squirrel-server.toml", &[]);
    let p = prepare(&path, &global("/")).unwrap();
    index(&p, "setup:cloud-setup-databases");
    index(&p, "setup:cloud-setup-management");
    let descr: Vec<String> = p.plan.steps.iter().map(|s| s.action.describe()).collect();
    assert!(descr.iter().any(|d| d == "Enable and start mysqld (restart when its configuration changed)"), "{descr:#?}");
    assert!(!ids(&p).iter().any(|i| i.starts_with("mask:")), "nothing is socket-activated on EL6");
}

#[test]
fn an_image_root_gets_no_runtime_steps() {
    let (_dir, path) = shipped("squirrel-server.toml", &[]);
    let p = prepare(&path, &global("/nonexistent-image-root")).unwrap();
    assert!(!p.ctx.live);
    for runtime in ["wait:", "db-admin-login", "db-user", "setup:", "exportfs", "firewall:", "cloudstack:", "template"] {
        assert!(!ids(&p).iter().any(|i| i.starts_with(runtime)), "{runtime} planned for an image root: {:#?}", ids(&p));
    }
}

#[test]
fn a_management_server_with_remote_storage_seeds_the_template_through_a_mount() {
    let (_dir, path) = shipped("management.toml", &[("[host]\n", "[host]\nplatform = \"debian-12\"\n")]);
    let p = prepare(&path, &global("/")).unwrap();
    assert!(!ids(&p).iter().any(|i| i.starts_with("exportfs")), "no NFS role here");
    let seed = index(&p, "template:3");
    let row = index(&p, "template-row:3");
    for i in [seed, row] {
        let d = p.plan.steps[i].action.describe();
        assert!(d.ends_with("(on 10.0.0.20:/export/secondary mounted at /mnt/secondary, unmounted after)"), "{d}");
    }
    // The mount needs the NFS client, which comes with the management packages; the row needs the database.
    let mgmt_pkgs = ids(&p).iter().position(|i| i.starts_with("packages:") && i.contains("cloudstack-management")).unwrap();
    assert!(ancestors(&p, seed).contains(&mgmt_pkgs));
    assert!(ancestors(&p, row).contains(&index(&p, "setup:cloudstack-setup-databases")) && ancestors(&p, row).contains(&seed));

    // An image root plans no mount; a host with the NFS role writes the export directly.
    let img = prepare(&path, &global("/nonexistent-image-root")).unwrap();
    assert!(!ids(&img).iter().any(|i| i.starts_with("template")));
    let (_aio_dir, aio_path) = shipped("all-in-one.toml", &[]);
    let aio = prepare(&aio_path, &global("/")).unwrap();
    assert!(!aio.plan.steps.iter().any(|s| s.action.describe().contains("mounted at")));
}

/// The golden plans: every platform x role (tests/fixtures/plans/<platform>-<role>.toml) planned for a
/// running host, compared exactly with `<name>.json` beside it: the files, and every action with its lane,
/// description and what it waits for. Regenerate with `UPDATE_GOLDEN=1 cargo test --test engine_plan`,
/// then review the diff. The fixtures give their (fake) passwords inline: no environment is read.
#[test]
fn golden_plan_per_platform_and_role() {
    use cloudstrap::platform::PlatformId;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut expected = BTreeSet::new();
    for pid in PlatformId::ALL {
        for role in ["management", "database", "nfs", "kvm-agent", "all-in-one", "provisioning"] {
            // EL6 is not offered the provisioning role (its profile check says so).
            if role == "provisioning" && cloudstrap::platform::Platform::get(pid).provisioning.is_none() {
                continue;
            }
            let name = format!("{pid}-{role}");
            let got = golden_plan(&dir.join(format!("{name}.toml")));
            let json = dir.join(format!("{name}.json"));
            if update {
                std::fs::write(&json, &got).unwrap();
            } else {
                let want = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 and review)", json.display()));
                pretty_assertions::assert_eq!(got, want, "{name}: the plan differs from {}", json.display());
            }
            expected.insert(format!("{name}.toml"));
            expected.insert(format!("{name}.json"));
        }
    }
    let present: BTreeSet<String> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(present, expected, "every fixture is a platform x role pair with its golden plan");
}

/// The plan of one fixture for a running host, with stable generated keys, after `edit`; and the
/// redactor `install` would use with it.
fn fixture_plan(path: &Path, edit: impl FnOnce(&mut cloudstrap::profile::Profile)) -> (cloudstrap::plan::Plan, cloudstrap::run::Redactor) {
    use cloudstrap::action::Secret;
    use cloudstrap::plan::{self, GeneratedKeys, PlanInput, PlanSecrets};
    use cloudstrap::platform::{Platform, PlatformId, Release};

    let mut profile = cloudstrap::profile::load(path).unwrap_or_else(|e| panic!("{e}"));
    edit(&mut profile);
    let pid: PlatformId = profile.host.platform.as_deref().expect("fixtures name their platform").parse().unwrap();
    let secrets = PlanSecrets::resolve(&profile, path.parent().unwrap()).unwrap();
    let keys = GeneratedKeys { management: Secret::new("golden-generated-management-key"), database: Secret::new("golden-generated-database-key") };
    let mut redactor = secrets.redactor();
    redactor.add(keys.management.expose());
    redactor.add(keys.database.expose());
    let input = PlanInput {
        profile: &profile,
        profile_path: path,
        platform: Platform::get(pid),
        release: Release::get(&profile.cloudstack.release).unwrap(),
        files: cloudstrap::render::render_all(&profile, pid).unwrap(),
        merge: cloudstrap::render::merge,
        secrets: &secrets,
        live: true,
        generated_keys: keys,
    };
    (plan::build(&input).unwrap_or_else(|e| panic!("{}: {e}", path.display())), redactor)
}

/// The plan of one fixture as pretty JSON.
fn golden_plan(path: &Path) -> String {
    let (plan, redactor) = fixture_plan(path, |_| ());
    let files: Vec<serde_json::Value> = plan
        .files
        .iter()
        .map(|f| serde_json::json!({"path": f.path, "mode": format!("{:04o}", f.mode), "role": f.role.map_or("host", |r| r.as_str()), "what": f.what}))
        .collect();
    let v = serde_json::json!({
        "platform": plan.platform.as_str(),
        "release": plan.release,
        "roles": plan.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "files": files,
        "actions": cloudstrap::plan::view::actions(&plan, &redactor, None),
    });
    let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
    for leak in ["golden-t-", "golden-generated-", env!("CARGO_MANIFEST_DIR"), "/tmp/"] {
        assert!(!text.contains(leak), "{}: {leak:?} in the plan:\n{text}", path.display());
    }
    text
}

/// The hand-off is part of the plan, after everything else: the API hand-off and the zone on a management
/// host whose profile gives the admin password, the registration on a KVM host that asks for it.
#[test]
fn the_plan_ends_with_the_hand_off() {
    use cloudstrap::plan::Lane;
    let fixture = |name: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans").join(name);
    let tail = |plan: &cloudstrap::plan::Plan| -> Vec<String> {
        plan.steps.iter().zip(&plan.info).filter(|(_, i)| i.lane == Lane::Handoff).map(|(s, _)| s.action.id()).collect()
    };
    let (plan, _) = fixture_plan(&fixture("el9-management.toml"), |_| ());
    assert_eq!(tail(&plan), ["cloudstack:handoff", "cloudstack:zone:zone1"]);
    let n = plan.steps.len();
    assert_eq!(plan.steps[n - 2].after, (0..n - 2).collect::<Vec<_>>(), "the hand-off waits for every step before it");
    assert_eq!(plan.steps[n - 1].after, (0..n - 1).collect::<Vec<_>>(), "the zone waits for the hand-off too");
    // No admin password: nothing to hand off.
    let (plan, _) = fixture_plan(&fixture("el9-management.toml"), |p| p.management.as_mut().unwrap().admin_password = None);
    assert!(tail(&plan).is_empty());
    // A KVM host that asks to register itself.
    let (plan, _) = fixture_plan(&fixture("ubuntu-24.04-kvm-agent.toml"), |p| p.agent.as_mut().unwrap().register = true);
    assert_eq!(tail(&plan), ["cloudstack:agent:10.20.0.21"]);
    assert_eq!(plan.steps.last().unwrap().after.len(), plan.steps.len() - 1);
}
