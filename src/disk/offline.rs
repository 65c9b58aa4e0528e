//! The installed host's copy of the profile, pointed at what the installer copied onto its disk: the
//! CloudStack packages at the offline repository, the template at its file. Everything else, comments
//! included, stays as the operator wrote it (`toml_edit` keeps the document's formatting).

use toml_edit::{value, DocumentMut, Item, Table};

/// Where the offline copies are on the installed system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offline {
    /// The CloudStack repository (laid out like download.cloudstack.org), e.g. /var/lib/cloudstrap/repo/cloudstack.
    pub cloudstack: Option<String>,
    /// Its signing key, when the copy carries one.
    pub cloudstack_key: Option<String>,
    /// The system VM template file and its sha512 (used when the profile gives no checksum).
    pub template: Option<(String, String)>,
}

const NOTE: &str = "# cloudstrap disk install pointed the CloudStack packages and the template at the copies on this disk\n# (see [cloudstack] mirror and [template] url): this host installs with nothing from the network.\n";

/// The profile text with the offline sources set; `Ok(None)` when nothing changes.
pub fn rewrite(text: &str, o: &Offline) -> Result<Option<String>, String> {
    if o.cloudstack.is_none() && o.template.is_none() {
        return Ok(None);
    }
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    if let Some(repo) = &o.cloudstack {
        let cs = table(&mut doc, "cloudstack")?;
        cs.remove("repository");
        cs.insert("mirror", value(repo.as_str()));
        if let Some(k) = &o.cloudstack_key {
            cs.insert("gpg-key", value(k.as_str()));
        }
    }
    if let Some((file, sha512)) = &o.template {
        let t = table(&mut doc, "template")?;
        let keep_checksum = t.contains_key("url") && t.contains_key("checksum");
        t.insert("url", value(file.as_str()));
        if !keep_checksum {
            t.insert("checksum", value(format!("sha512:{sha512}")));
        }
    }
    let body = doc.to_string();
    // The editor's schema line stays first.
    let (head, rest) = match body.strip_prefix("#:schema") {
        Some(_) => body.split_once('\n').map(|(h, r)| (format!("{h}\n"), r.to_string())).unwrap_or((body.clone(), String::new())),
        None => (String::new(), body),
    };
    Ok(Some(format!("{head}{NOTE}{rest}")))
}

fn table<'a>(doc: &'a mut DocumentMut, name: &str) -> Result<&'a mut Table, String> {
    let item = doc.entry(name).or_insert(Item::Table(Table::new()));
    item.as_table_mut().ok_or_else(|| format!("{name} is not a table"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = "#:schema /usr/share/doc/cloudstrap/profile.schema.json\nversion = 1\n\n[cloudstack]\nrelease = \"4.22\" # the line\nrepository = \"http://10.0.0.1/cs\"\ngpg-key = \"http://10.0.0.1/cs/release.asc\"\nallow-http = true\n\n[host]\nroles = [\"all-in-one\"]\n";

    #[test]
    fn points_the_repository_at_the_disk_and_keeps_the_rest() {
        let o = Offline {
            cloudstack: Some("/var/lib/cloudstrap/repo/cloudstack".into()),
            cloudstack_key: Some("/var/lib/cloudstrap/repo/cloudstack/release.asc".into()),
            template: None,
        };
        let out = rewrite(PROFILE, &o).unwrap().unwrap();
        assert!(out.starts_with("#:schema /usr/share/doc/cloudstrap/profile.schema.json\n# cloudstrap disk install"), "{out}");
        assert!(out.contains("release = \"4.22\" # the line"), "{out}");
        assert!(!out.contains("repository ="), "{out}");
        assert!(out.contains("mirror = \"/var/lib/cloudstrap/repo/cloudstack\""), "{out}");
        assert!(out.contains("gpg-key = \"/var/lib/cloudstrap/repo/cloudstack/release.asc\""), "{out}");
        assert!(out.contains("[host]\nroles = [\"all-in-one\"]"), "{out}");
    }

    #[test]
    fn sets_the_template_with_its_checksum_unless_the_profile_gave_both() {
        let o = Offline { template: Some(("/var/lib/cloudstrap/templates/t.qcow2.bz2".into(), "ab".into())), ..Default::default() };
        let out = rewrite("version = 1\n", &o).unwrap().unwrap();
        assert!(out.contains("[template]\nurl = \"/var/lib/cloudstrap/templates/t.qcow2.bz2\"\nchecksum = \"sha512:ab\""), "{out}");
        let given = rewrite("version = 1\n[template]\nurl = \"http://x/t.qcow2.bz2\"\nchecksum = \"md5:00\"\n", &o).unwrap().unwrap();
        assert!(given.contains("url = \"/var/lib/cloudstrap/templates/t.qcow2.bz2\"") && given.contains("checksum = \"md5:00\""), "{given}");
        assert_eq!(rewrite("version = 1\n", &Offline::default()).unwrap(), None);
    }
}
