//! Shared helpers for the CloudStack API tests: an in-process simulator and fast client options.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use cloudstack_simulator::{Config, MemoryStore, Running, Simulator};
use cloudstrap::cloudstack::{Auth, Client, Options};

pub const KEY: &str = "test-api-key";
pub const SECRET: &str = "test-secret~key+/=";
pub const HOST_PASSWORD: &str = "host-root-pw";

/// A simulator with admin keys already registered; jobs, hosts and system VMs take two polls.
pub fn simulator() -> Running {
    simulator_with(Config { admin_keys: Some((KEY.into(), SECRET.into())), job_polls: 2, host_up_polls: 2, systemvm_polls: 2, ..Config::default() })
}

pub fn simulator_with(config: Config) -> Running {
    cloudstack_simulator::start("127.0.0.1:0", Simulator::new(config, Box::new(MemoryStore)).unwrap()).unwrap()
}

/// Client options for tests: no real waiting, bounded.
pub fn fast() -> Options {
    Options {
        request_timeout: Duration::from_secs(20),
        poll_first: Duration::from_millis(1),
        poll_interval: Duration::from_millis(1),
        job_timeout: Duration::from_secs(20),
        retries: 2,
        retry_delay: Duration::from_millis(1),
        expires_after: Some(Duration::from_secs(600)),
        ..Options::default()
    }
    .with_slow_calls(Duration::from_secs(20))
}

pub fn client(sim: &Running) -> Client {
    Client::new(&sim.url(), Auth::Keys { api_key: KEY.into(), secret: SECRET.into() }, fast()).unwrap()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/api").join(name)
}

/// The admin password the basic profile gives (in its secret file, tests/fixtures/api/secrets/admin-password;
/// the host password is in secrets/host-password: no test sets an environment variable).
pub const ADMIN_PASSWORD: &str = "Basic-Profile-Admin1";

pub fn profile(name: &str) -> cloudstrap::profile::Profile {
    cloudstrap::profile::load(&fixture(name)).unwrap()
}
