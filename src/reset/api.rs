//! Waiting for the management server's API after a restart: any HTTP answer from the endpoint means the
//! server is up (unsigned calls are answered with 401/432, which is fine here).

use std::time::{Duration, Instant};

use super::ResetError;

pub fn wait_for_api(endpoint: &str, timeout: Duration) -> Result<(), ResetError> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| ResetError::Failed(format!("HTTP client: {e}")))?;
    let url = format!("{endpoint}?command=listCapabilities&response=json");
    let start = Instant::now();
    loop {
        match client.get(&url).send() {
            Ok(resp) => {
                crate::log::line(&format!("{endpoint} answered {}", resp.status()));
                return Ok(());
            }
            Err(e) if start.elapsed() >= timeout => {
                return Err(ResetError::Failed(format!(
                    "the management server did not answer at {endpoint} within {} s ({e}); see \
                     /var/log/cloudstack/management/management-server.log, then run `cloudstrap reset` again to \
                     finish",
                    timeout.as_secs()
                )))
            }
            Err(_) => std::thread::sleep(Duration::from_secs(2).min(timeout.saturating_sub(start.elapsed()))),
        }
    }
}
