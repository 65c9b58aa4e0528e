//! Per-release system VM template defaults (cloudstack-facts.md section 5).
//! Kept here until the platform release table (src/platform/) carries them; then this moves there.

/// The KVM template of a release line and the checksum list published beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateDefaults {
    pub release: &'static str,
    pub url: &'static str,
    /// File in the template's directory listing `<hash>  <filename>` (md5sum.txt up to 4.21,
    /// sha512sum.txt from 4.22); `None` where none was published.
    pub checksum_file: Option<&'static str>,
}

const TABLE: &[TemplateDefaults] = &[
    TemplateDefaults {
        release: "3.0.2",
        url: "http://download.cloud.com/templates/acton/acton-systemvm-02062012.qcow2.bz2",
        checksum_file: None,
    },
    TemplateDefaults {
        release: "4.19",
        url: "https://download.cloudstack.org/systemvm/4.19/systemvmtemplate-4.19.1-kvm.qcow2.bz2",
        checksum_file: Some("md5sum.txt"),
    },
    TemplateDefaults {
        release: "4.20",
        url: "https://download.cloudstack.org/systemvm/4.20/systemvmtemplate-4.20.2-x86_64-kvm.qcow2.bz2",
        checksum_file: Some("md5sum.txt"),
    },
    TemplateDefaults {
        release: "4.21",
        url: "https://download.cloudstack.org/systemvm/4.20/systemvmtemplate-4.20.2-x86_64-kvm.qcow2.bz2",
        checksum_file: Some("md5sum.txt"),
    },
    TemplateDefaults {
        release: "4.22",
        url: "https://download.cloudstack.org/systemvm/4.22/systemvmtemplate-4.22.0-x86_64-kvm.qcow2.bz2",
        checksum_file: Some("sha512sum.txt"),
    },
];

/// Defaults for a release line ("4.19", or a full version such as "4.19.1.0").
pub fn defaults(release: &str) -> Option<&'static TemplateDefaults> {
    TABLE.iter().find(|d| release == d.release || release.starts_with(&format!("{}.", d.release)))
}

impl TemplateDefaults {
    /// The checksum list's URL: the file beside the template.
    pub fn checksum_url(&self) -> Option<String> {
        let name = self.checksum_file?;
        let dir = &self.url[..self.url.rfind('/')? + 1];
        Some(format!("{dir}{name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_up_to_4_21_sha512_from_4_22() {
        assert_eq!(defaults("4.19").unwrap().checksum_url().unwrap(), "https://download.cloudstack.org/systemvm/4.19/md5sum.txt");
        assert_eq!(defaults("4.21.0.0").unwrap().checksum_file, Some("md5sum.txt"));
        assert_eq!(defaults("4.22").unwrap().checksum_url().unwrap(), "https://download.cloudstack.org/systemvm/4.22/sha512sum.txt");
        assert_eq!(defaults("3.0.2").unwrap().checksum_url(), None);
        assert!(defaults("4.2").is_none() && defaults("4.191").is_none());
    }
}
