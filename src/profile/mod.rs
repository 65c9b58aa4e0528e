//! Profile v1: model, loading and validation.
mod model;
pub use model::*;

use std::path::Path;

impl Profile {
    /// Parse a profile from TOML text without validating cross-field rules.
    /// (Located errors and full validation live in `check`.)
    pub fn from_toml_str(text: &str) -> Result<Profile, toml::de::Error> {
        toml::from_str(text)
    }

    /// The concrete roles of this host, with all-in-one expanded, in install order.
    pub fn roles(&self) -> Vec<Role> {
        let all = self.host.roles.contains(&Role::AllInOne);
        Role::CONCRETE.into_iter().filter(|r| all || self.host.roles.contains(r)).collect()
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    /// The DNS domain of the FQDN ("squirrel.org" for "cloud-server.squirrel.org").
    pub fn domain(&self) -> Option<&str> {
        self.host.fqdn.split_once('.').map(|(_, d)| d)
    }

    pub fn load(path: &Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path)?;
        Ok(Profile::from_toml_str(&text)?)
    }
}
