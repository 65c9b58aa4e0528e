//! The release's system VM template, from the platform release table (`platform::Release`, which carries
//! the URL and checksum list per line: md5sum.txt up to 4.21, sha512sum.txt from 4.22).

use crate::platform::{Release, TemplateSource};

/// The template of a release line ("4.19"), also given as a full version ("4.19.1.0").
pub fn defaults(release: &str) -> Option<&'static TemplateSource> {
    let line = Release::get(release).or_else(|| {
        let two: Vec<&str> = release.splitn(3, '.').take(2).collect();
        Release::get(&two.join("."))
    });
    line.map(|r| &r.template)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_up_to_4_21_sha512_from_4_22() {
        assert_eq!(defaults("4.19").unwrap().checksum_url, Some("https://download.cloudstack.org/systemvm/4.19/md5sum.txt"));
        assert!(defaults("4.20.1.0").unwrap().checksum_url.unwrap().ends_with("/md5sum.txt"));
        assert_eq!(defaults("4.22").unwrap().checksum_url, Some("https://download.cloudstack.org/systemvm/4.22/sha512sum.txt"));
        assert_eq!(defaults("3.0.2").unwrap().checksum_url, None);
        assert!(defaults("4.2").is_none() && defaults("4.191").is_none());
    }
}
