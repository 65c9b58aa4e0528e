//! `cloudstack-simulator`: the API stand-in as a standalone server (for the end-to-end lab).

use std::process::ExitCode;

use cloudstack_simulator::{start, Config, JsonFileStore, MemoryStore, Simulator, Store};

const USAGE: &str = "usage: cloudstack-simulator [--listen ADDR] [--state FILE] [--admin-user NAME]
       [--admin-password-env VAR | --admin-password-file FILE] [--api-key KEY --secret-key-file FILE]
       [--job-polls N] [--host-up-polls N] [--systemvm-polls N] [--latency COMMAND=SECONDS ...]
       [--enforce-post] [--clock-offset SECONDS] [--template-copy-fails] [--version RELEASE]
Serves the CloudStack API at http://ADDR/client/api (default 127.0.0.1:8080). The admin password
defaults to \"password\", as on a fresh management server. --latency makes a command take that long
before it answers (addHost, addImageStore and createStoragePool take minutes on a real server);
--enforce-post plays enforce.post.requests.and.timestamps; --clock-offset sets the server's clock
ahead (or behind, negative); --template-copy-fails makes the template copy after addImageStore fail
(only logged); --version plays a release (default 4.22; 4.23 answers registerUserKeys with a job).
Control (loopback only): POST /simulator/fail?command=CMD[&mode=after|drop] fails the next CMD once;
GET /simulator/state; GET /simulator/log; POST /simulator/repair-template.";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloudstack-simulator: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut listen = "127.0.0.1:8080".to_string();
    let mut state_file = None;
    let mut config = Config { job_polls: 2, host_up_polls: 2, systemvm_polls: 2, ..Config::default() };
    let mut api_key = None;
    let mut secret = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--listen" => listen = val()?,
            "--state" => state_file = Some(val()?),
            "--admin-user" => config.admin_username = val()?,
            "--admin-password-env" => {
                let v = val()?;
                config.admin_password = std::env::var(&v).map_err(|_| format!("environment variable {v} is not set"))?;
            }
            "--admin-password-file" => {
                let f = val()?;
                config.admin_password = std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?.trim_end_matches('\n').to_string();
            }
            "--api-key" => api_key = Some(val()?),
            "--secret-key-file" => {
                let f = val()?;
                secret = Some(std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?.trim().to_string());
            }
            "--job-polls" => config.job_polls = val()?.parse().map_err(|_| "--job-polls takes a number".to_string())?,
            "--host-up-polls" => config.host_up_polls = val()?.parse().map_err(|_| "--host-up-polls takes a number".to_string())?,
            "--systemvm-polls" => config.systemvm_polls = val()?.parse().map_err(|_| "--systemvm-polls takes a number".to_string())?,
            "--latency" => {
                let v = val()?;
                let (cmd, secs) = v.split_once('=').ok_or_else(|| format!("--latency takes COMMAND=SECONDS, not {v}"))?;
                let secs: f64 = secs.parse().map_err(|_| format!("--latency takes COMMAND=SECONDS, not {v}"))?;
                let d = std::time::Duration::try_from_secs_f64(secs).map_err(|_| format!("--latency: {secs} is not a duration"))?;
                config.latency.push((cmd.to_string(), d));
            }
            "--enforce-post" => config.enforce_post = true,
            "--clock-offset" => {
                let secs: i64 = val()?.parse().map_err(|_| "--clock-offset takes a number of seconds".to_string())?;
                config.clock_offset = chrono::Duration::seconds(secs);
            }
            "--template-copy-fails" => config.template_copy_fails = true,
            "--version" => config.version = val()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    match (api_key, secret) {
        (Some(k), Some(s)) => config.admin_keys = Some((k, s)),
        (None, None) => {}
        _ => return Err("--api-key and --secret-key-file go together".into()),
    }
    let store: Box<dyn Store> = match &state_file {
        Some(f) => Box::new(JsonFileStore { path: f.into() }),
        None => Box::new(MemoryStore),
    };
    let sim = Simulator::new(config, store).map_err(|e| format!("cannot load the state: {e}"))?;
    let running = start(&listen, sim).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("cloudstack-simulator: serving {}", running.url());
    running.server.join();
    Ok(())
}
